"""TRL reward functions: GRPOTrainer(reward_funcs=[rewardmesh.math_reward, ...]).

TRL calls each as f(prompts=..., completions=..., **columns), the dataset's
other columns as lists, and masks a None reward instead of training on it: an
item the mesh could not score (after retries) is None, never a false 0. A row
rewardmesh cannot read raises ValueError (InvalidItem) at once.
"""

from .client import InvalidItem, default_client, item_error
from .items import code_item, domain_item, math_item, text_of

# Where the gold answer and the tests are looked for, in order.
GOLD_COLUMNS = ("answer", "solution", "ground_truth")
TESTS_COLUMNS = ("ground_truth", "input_output", "tests")


def _column(columns, names, n, what):
    for name in names:
        values = columns.get(name)
        if values is not None:
            if len(values) != n:
                raise InvalidItem("invalid", "column %s has %d values for %d completions" % (name, len(values), n))
            return values
    raise InvalidItem("invalid", "%s: the dataset needs a column named one of %s" % (what, ", ".join(names)))


def score_items(items, client=None):
    """Rewards for TRL: a float per item, None where the mesh could not score it."""
    rewards = []
    for result in (client or default_client()).rewards(items):
        err = item_error(result)
        if err is None:
            rewards.append(float(result["reward"]))
        elif isinstance(err, InvalidItem):
            raise err
        else:
            rewards.append(None)
    return rewards


def math_reward(prompts=None, completions=None, **columns):
    """1.0 when the completion's final answer equals the gold (column answer,
    solution or ground_truth), else 0.0."""
    golds = _column(columns, GOLD_COLUMNS, len(completions), "math_reward")
    return score_items([math_item(text_of(c), g) for c, g in zip(completions, golds)])


def code_reward(prompts=None, completions=None, **columns):
    """1.0 when the program in the completion's last code block passes every
    test (column ground_truth, input_output or tests: {"inputs", "outputs",
    "fn_name"?}), else 0.0."""
    tests = _column(columns, TESTS_COLUMNS, len(completions), "code_reward")
    return score_items([code_item(text_of(c), t) for c, t in zip(completions, tests)])


def reward(prompts=None, completions=None, domain=None, reference=None, **columns):
    """Any rewardmesh domain: columns domain (math, code, swe, rm, if) and
    reference (that domain's reference, as /v1/rewards takes it)."""
    if domain is None or reference is None:
        raise InvalidItem("invalid", "reward: the dataset needs columns domain and reference")
    if len(domain) != len(completions) or len(reference) != len(completions):
        raise InvalidItem("invalid", "reward: one domain and one reference per completion")
    return score_items([domain_item(text_of(c), d, r) for c, d, r in zip(completions, domain, reference)])
