"""Dataset rows as /v1/rewards items."""

import json

from .client import InvalidItem


def text_of(completion):
    """The text of a completion: a string, or chat messages (TRL's conversational
    form, [{"role": "assistant", "content": ...}]) whose last message is the answer;
    content given as parts keeps its text parts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
        if content is None:
            return ""
    raise InvalidItem("invalid", "a completion must be a string or a list of chat messages, not %r" % (type(completion).__name__,))


def math_item(response, gold):
    """A math item: gold is the answer (or a whole worked solution, or a list of
    accepted forms); numbers are taken as their text."""
    if isinstance(gold, (list, tuple)):
        gold = [str(g) for g in gold]
    elif gold is None or isinstance(gold, (dict, bool)):
        raise InvalidItem("invalid", "a math gold answer must be a string, a number or a list, not %r" % (gold,))
    else:
        gold = str(gold)
    if not any(g.strip() for g in ([gold] if isinstance(gold, str) else gold)):
        # The math service would score it 0 ("no gold"): a row without its answer.
        raise InvalidItem("invalid", "the math gold answer is blank")
    return {"domain": "math", "response": response, "reference": {"gold": gold}}


def code_item(response, tests):
    """A code item from LiveCodeBench/APPS-style tests, {"inputs", "outputs",
    "fn_name"?} (a dict or its JSON text). With fn_name the tests call a function
    (LeetCode style): LiveCodeBench writes each call's arguments as JSON lines and
    the return value as JSON text; APPS and TACO write them as JSON values, the
    arguments as a list and the return value wrapped in a one-element list, which
    is read the same way."""
    if isinstance(tests, (str, bytes)):
        try:
            tests = json.loads(tests)
        except ValueError as e:
            raise InvalidItem("invalid", "code tests must be JSON {inputs, outputs, fn_name?}: %s" % e) from None
    if not isinstance(tests, dict) or not isinstance(tests.get("inputs"), list) or not isinstance(tests.get("outputs"), list):
        raise InvalidItem("invalid", "code tests must be {inputs: [...], outputs: [...], fn_name?}")
    inputs, outputs, fn_name = tests["inputs"], tests["outputs"], tests.get("fn_name")
    if len(inputs) != len(outputs):
        raise InvalidItem("invalid", "%d test inputs for %d outputs" % (len(inputs), len(outputs)))
    cases = []
    for given, expected in zip(inputs, outputs):
        if fn_name:
            if not isinstance(given, str):
                given = "\n".join(json.dumps(arg) for arg in (given if isinstance(given, list) else [given]))
            if not isinstance(expected, str):
                if isinstance(expected, list) and len(expected) == 1:
                    expected = expected[0]
                expected = json.dumps(expected)
        elif not isinstance(given, str) or not isinstance(expected, str):
            raise InvalidItem("invalid", "stdin tests need strings; give fn_name for tests that call a function")
        cases.append({"input": given, "output": expected})
    reference = {"tests": cases}
    if fn_name:
        reference["mode"], reference["fn_name"] = "functional", fn_name
    return {"domain": "code", "response": response, "reference": reference}


def domain_item(response, domain, reference):
    """An item of any rewardmesh domain, as /v1/rewards takes it."""
    if isinstance(reference, (str, bytes)):
        try:
            reference = json.loads(reference)
        except ValueError:
            pass  # a string reference is the service's to judge (a math gold)
    if not isinstance(domain, str) or not domain:
        raise InvalidItem("invalid", "a domain is needed (math, code, swe, rm, if)")
    return {"domain": domain, "response": response, "reference": reference}


def labelled_domain(label):
    """(domain, reference) when label is a rewardmesh label, a dict (or its JSON
    text) with "domain"; else None."""
    if isinstance(label, (str, bytes)):
        try:
            label = json.loads(label)
        except ValueError:
            return None
    if isinstance(label, dict) and isinstance(label.get("domain"), str):
        reference = label.get("reference")
        if reference is None:
            reference = {k: v for k, v in label.items() if k not in ("domain", "group")}
        return label["domain"], reference
    return None
