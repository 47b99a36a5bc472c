"""verl's custom reward function: reward.custom_reward_function.path pointing at
this module (or a file that imports it), name compute_score; for verl's batch
reward manager (reward_model.reward_manager=batch), name compute_score_batch.

A failure of the mesh raises (after retries) rather than scoring 0, so a step
never trains on a reward nobody computed; a row rewardmesh cannot read raises
ValueError (InvalidItem) at once.
"""

# Absolute imports: verl loads this file by its path, as a module of no package.
from rewardmesh.client import InvalidItem, default_client, item_error
from rewardmesh.items import code_item, domain_item, labelled_domain, math_item

# The data sources verl's default_compute_score scores as math, and those whose
# ground_truth is LiveCodeBench/APPS-style tests.
MATH_SOURCES = frozenset([
    "openai/gsm8k", "gsm8k", "lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval", "MATH", "MATH-lighteval",
    "HuggingFaceH4/MATH-500", "math", "math_dapo", "math_dapo_reasoning",
    "numina_aops_forum", "numina_synthetic_math", "numina_amc_aime", "numina_synthetic_amc",
    "numina_cn_k12", "numina_olympiads",
])
CODE_SOURCES = frozenset(["codecontests", "apps", "codeforces", "taco", "livecodebench"])


def verl_item(data_source, solution_str, ground_truth):
    """The /v1/rewards item for one verl sample. A ground_truth that is a
    rewardmesh label ({"domain", "reference"}) routes by its domain whatever the
    data source."""
    labelled = labelled_domain(ground_truth)
    if labelled:
        return domain_item(solution_str, *labelled)
    source = str(data_source)
    if source in MATH_SOURCES or source.rsplit("/", 1)[-1] in MATH_SOURCES or source.startswith("aime"):
        return math_item(solution_str, ground_truth)
    if source in CODE_SOURCES:
        return code_item(solution_str, ground_truth)
    raise NotImplementedError("rewardmesh has no reward for data_source=%r: use a math or code source, "
                              "or a ground_truth {\"domain\", \"reference\"}" % (source,))


def _verl_score(result, with_details):
    err = item_error(result)
    if err is not None:
        raise err
    score = float(result["reward"])
    if not with_details:
        return score
    return {"score": score, "acc": score == 1.0}


def compute_score(data_source, solution_str, ground_truth, extra_info=None, with_details=False, client=None, **kwargs):
    """verl's custom_reward_function: the reward as a float, or with
    with_details=True (reward_kwargs) verl's dict {"score", "acc"}. Other keyword
    arguments verl passes (sandbox_fusion_url, concurrent_semaphore, ...) are
    ignored: the mesh has its own sandbox."""
    item = verl_item(data_source, solution_str, ground_truth)
    return _verl_score((client or default_client()).rewards([item])[0], with_details)


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, with_details=False, client=None, **kwargs):
    """compute_score for verl's batch reward manager: one list in, one list out,
    scored in as few requests as the gateway's limits allow."""
    if not (len(data_sources) == len(solution_strs) == len(ground_truths)):
        raise InvalidItem("invalid", "%d data sources, %d solutions and %d ground truths: one of each per sample" % (
            len(data_sources), len(solution_strs), len(ground_truths)))
    items = [verl_item(d, s, g) for d, s, g in zip(data_sources, solution_strs, ground_truths)]
    results = (client or default_client()).rewards(items)
    return [_verl_score(r, with_details) for r in results]
