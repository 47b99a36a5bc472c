"""rewardmesh's Python client: rewards from a rewardmesh gateway for trainers that
take a Python function instead of a URL (verl's custom_reward_function, TRL's
reward_funcs). Standard library only; the gateway is $REWARDMESH_URL."""

from .client import Client, InvalidItem, MeshUnavailable, RewardMeshError, configure, default_client
from .trl import code_reward, math_reward, reward
from .verl import compute_score, compute_score_batch

__version__ = "0.1.0"

__all__ = [
    "Client", "RewardMeshError", "MeshUnavailable", "InvalidItem", "configure", "default_client",
    "compute_score", "compute_score_batch", "math_reward", "code_reward", "reward",
]
