"""Tests of the rewardmesh client. Those that score run against a real mesh at
$REWARDMESH_URL (tests/mesh/pyclient_test.go starts one and runs this file);
$REWARDMESH_TEST_CODE=1 says it has a sandbox, $REWARDMESH_TEST_DOWN names a
domain whose service it does not run."""

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import rewardmesh  # noqa: E402
from rewardmesh import InvalidItem, MeshUnavailable  # noqa: E402
from rewardmesh.items import code_item, text_of  # noqa: E402
from rewardmesh.verl import verl_item  # noqa: E402

URL = os.environ.get("REWARDMESH_URL")
HAS_SANDBOX = os.environ.get("REWARDMESH_TEST_CODE") == "1"
DOWN = os.environ.get("REWARDMESH_TEST_DOWN")

DOUBLE = "```python\nprint(int(input()) * 2)\n```"
PLUS_TWO = "```python\nprint(int(input()) + 2)\n```"  # right for 2, wrong for 5
DOUBLE_TESTS = {"inputs": ["2\n", "5\n"], "outputs": ["4\n", "10\n"]}
ADD_TESTS = {"fn_name": "add", "inputs": [[1, 2], [3, [4]]], "outputs": [[3], [[7]]]}  # APPS/TACO call-based


def needs_mesh(cls):
    return unittest.skipUnless(URL, "REWARDMESH_URL is not set: these tests need a running mesh")(cls)


class FaultyProxy:
    """An HTTP proxy in front of the real mesh that answers the first `failures`
    POSTs 503 (a mesh restarting) and counts every POST it sees."""

    def __init__(self, failures):
        proxy = self
        self.failures, self.posts = failures, 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.posts += 1
                if proxy.failures > 0:
                    proxy.failures -= 1
                    status, out = 503, json.dumps({"error": {"code": "unavailable", "message": "injected", "retryable": True}}).encode()
                else:
                    req = urllib.request.Request(URL + self.path, data=body, headers={"Content-Type": "application/json"})
                    try:
                        with urllib.request.urlopen(req, timeout=60) as resp:
                            status, out = resp.status, resp.read()
                    except urllib.error.HTTPError as e:
                        status, out = e.code, e.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TestRows(unittest.TestCase):
    """How dataset rows become items; no mesh needed."""

    def test_completions_as_text_or_messages(self):
        self.assertEqual(text_of("4"), "4")
        self.assertEqual(text_of([{"role": "assistant", "content": "4"}]), "4")
        self.assertEqual(text_of([{"role": "assistant", "content": [{"type": "text", "text": "4"}]}]), "4")
        with self.assertRaises(InvalidItem):
            text_of(4)

    def test_call_based_tests_become_json_lines(self):
        item = code_item("x", ADD_TESTS)
        self.assertEqual(item["reference"], {"mode": "functional", "fn_name": "add", "tests": [
            {"input": "1\n2", "output": "3"}, {"input": "3\n[4]", "output": "[7]"}]})
        lcb = code_item("x", json.dumps({"fn_name": "f", "inputs": ["[1]"], "outputs": ["2"]}))
        self.assertEqual(lcb["reference"]["tests"], [{"input": "[1]", "output": "2"}])

    def test_routing_and_bad_rows(self):
        self.assertEqual(verl_item("openai/gsm8k", "#### 4", "4")["domain"], "math")
        self.assertEqual(verl_item("aime2024", "x", 4)["reference"], {"gold": "4"})
        self.assertEqual(verl_item("taco", "x", DOUBLE_TESTS)["domain"], "code")
        self.assertEqual(verl_item("mine", "x", {"domain": "swe", "reference": {"a": 1}})["domain"], "swe")
        with self.assertRaises(NotImplementedError):
            verl_item("unknown/source", "x", "4")
        for gold in ["", "  ", [], None]:
            with self.assertRaises(InvalidItem):
                verl_item("openai/gsm8k", "#### 4", gold)
        for tests in ["not json", {"inputs": ["1"], "outputs": []}, {"inputs": [[1]], "outputs": ["1"]}]:
            with self.assertRaises(InvalidItem):
                verl_item("codecontests", "x", tests)


class TestPackage(unittest.TestCase):
    def test_verl_loads_the_file_by_path(self):
        # As verl's custom_reward_function.path does: a module of no package.
        import importlib.util
        spec = importlib.util.spec_from_file_location("custom_module", os.path.join(ROOT, "rewardmesh", "verl.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.assertTrue(callable(module.compute_score) and callable(module.compute_score_batch))

    def test_wheel_builds_and_imports_without_a_download(self):
        sys.path.insert(0, ROOT)
        import build_backend
        with tempfile.TemporaryDirectory() as out:
            wheel = os.path.join(out, build_backend.build_wheel(out))
            # A pure-Python wheel is importable as it is: the proof it holds the package.
            run = subprocess.run([sys.executable, "-c", "import rewardmesh; print(rewardmesh.__file__)"],
                                 env=dict(os.environ, PYTHONPATH=wheel), cwd=out, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn(".whl", run.stdout)


@needs_mesh
class TestVerl(unittest.TestCase):
    def setUp(self):
        rewardmesh.configure(base_url=URL, retry_for=5)

    def test_math(self):
        self.assertEqual(rewardmesh.compute_score("openai/gsm8k", "24 + 48 = 72\n#### 72", "72"), 1.0)
        self.assertEqual(rewardmesh.compute_score("openai/gsm8k", "#### 71", "72"), 0.0)
        self.assertEqual(rewardmesh.compute_score("lighteval/MATH", "so $\\boxed{\\frac{1}{2}}$", "0.5"), 1.0)
        self.assertEqual(rewardmesh.compute_score("aime24", "\\boxed{34}", 33), 0.0)
        self.assertEqual(rewardmesh.compute_score("math_dapo", "Answer: 7", "7", extra_info={"index": 1},
                                                  with_details=True), {"score": 1.0, "acc": True})

    def test_batch(self):
        scores = rewardmesh.compute_score_batch(
            data_sources=["openai/gsm8k", "openai/gsm8k", "mine"],
            solution_strs=["#### 4", "#### 5", "\\boxed{9}"],
            ground_truths=["4", "4", {"domain": "math", "reference": {"gold": "9"}}],
            extra_infos=[None, None, None])
        self.assertEqual(scores, [1.0, 0.0, 1.0])

    def test_a_bad_row_raises_without_a_retry(self):
        proxy = FaultyProxy(0)
        try:
            rewardmesh.configure(base_url=proxy.url, retry_for=30, backoff=0.05)
            with self.assertRaises(InvalidItem):
                rewardmesh.compute_score("mine", "x", {"domain": "chess", "reference": {}})
            self.assertEqual(proxy.posts, 1)
        finally:
            proxy.close()

    def test_a_restarting_mesh_is_retried(self):
        proxy = FaultyProxy(2)
        try:
            rewardmesh.configure(base_url=proxy.url, retry_for=30, backoff=0.05)
            self.assertEqual(rewardmesh.compute_score("openai/gsm8k", "#### 4", "4"), 1.0)
            self.assertEqual(proxy.posts, 3)
        finally:
            proxy.close()

    def test_an_unreachable_mesh_raises_instead_of_scoring_zero(self):
        rewardmesh.configure(base_url="http://127.0.0.1:9", retry_for=0.5, backoff=0.05)
        with self.assertRaises(MeshUnavailable):
            rewardmesh.compute_score("openai/gsm8k", "#### 4", "4")

    @unittest.skipUnless(DOWN == "swe", "the mesh runs every service")
    def test_a_service_down_raises(self):
        rewardmesh.configure(base_url=URL, retry_for=1, backoff=0.1)
        with self.assertRaises(MeshUnavailable):
            rewardmesh.compute_score("mine", "x", {"domain": "swe", "reference": {"original_files": {}, "oracle_files": {}}})

    @unittest.skipUnless(HAS_SANDBOX, "the mesh has no sandbox")
    def test_code(self):
        self.assertEqual(rewardmesh.compute_score("codecontests", DOUBLE, DOUBLE_TESTS), 1.0)
        self.assertEqual(rewardmesh.compute_score("codecontests", PLUS_TWO, json.dumps(DOUBLE_TESTS)), 0.0)
        # APPS/TACO wrap each return value in a one-element list: add(1, 2) must
        # return 3 and add(3, [4]) must return [7], neither more nor less unwrapped.
        right = "```python\ndef add(a, b):\n    return [a + b[0]] if isinstance(b, list) else a + b\n```"
        self.assertEqual(rewardmesh.compute_score("taco", right, ADD_TESTS), 1.0)
        still_wrapped = "```python\ndef add(a, b):\n    return [a + b[0]] if isinstance(b, list) else [a + b]\n```"
        self.assertEqual(rewardmesh.compute_score("apps", still_wrapped, ADD_TESTS), 0.0)
        unwrapped_twice = "```python\ndef add(a, b):\n    return a + b[0] if isinstance(b, list) else a + b\n```"
        self.assertEqual(rewardmesh.compute_score("apps", unwrapped_twice, ADD_TESTS), 0.0)


@needs_mesh
class TestTRL(unittest.TestCase):
    def setUp(self):
        rewardmesh.configure(base_url=URL, retry_for=5)

    def test_math_reward(self):
        prompts = ["2+2?", "3+3?"]
        self.assertEqual(rewardmesh.math_reward(prompts=prompts, completions=["\\boxed{4}", "\\boxed{7}"],
                                                answer=["4", "6"], trainer_state=None), [1.0, 0.0])
        conversational = [[{"role": "assistant", "content": "The answer is \\boxed{4}."}],
                          [{"role": "assistant", "content": "\\boxed{6}"}]]
        self.assertEqual(rewardmesh.math_reward(prompts=[[{"role": "user", "content": p}] for p in prompts],
                                                completions=conversational, solution=["$4$", "$6$"]), [1.0, 1.0])
        with self.assertRaises(InvalidItem):
            rewardmesh.math_reward(prompts=prompts, completions=["4", "6"], question=prompts)

    def test_reward_any_domain(self):
        self.assertEqual(rewardmesh.reward(prompts=["p"], completions=["\\boxed{9}"], domain=["math"],
                                           reference=[{"gold": "9"}]), [1.0])

    def test_unscored_items_are_none(self):
        rewardmesh.configure(base_url="http://127.0.0.1:9", retry_for=0.5, backoff=0.05)
        self.assertEqual(rewardmesh.math_reward(prompts=["p", "q"], completions=["4", "5"], answer=["4", "5"]), [None, None])

    @unittest.skipUnless(DOWN == "swe", "the mesh runs every service")
    def test_a_service_down_is_none_beside_scored_items(self):
        rewardmesh.configure(base_url=URL, retry_for=1, backoff=0.1)
        got = rewardmesh.reward(prompts=["p", "q"], completions=["\\boxed{9}", "x"], domain=["math", "swe"],
                                reference=[{"gold": "9"}, {"original_files": {}, "oracle_files": {}}])
        self.assertEqual(got, [1.0, None])

    @unittest.skipUnless(HAS_SANDBOX, "the mesh has no sandbox")
    def test_code_reward(self):
        got = rewardmesh.code_reward(prompts=["p", "q"], completions=[DOUBLE, [{"role": "assistant", "content": PLUS_TWO}]],
                                     ground_truth=[DOUBLE_TESTS, DOUBLE_TESTS])
        self.assertEqual(got, [1.0, 0.0])


if __name__ == "__main__":
    unittest.main()
