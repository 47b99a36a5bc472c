"""Times NLTK 3.8 (Punkt English, word_tokenize) and langdetect 1.0.9 (seed 0)
per conformance response, the reference for BenchmarkPrimitives.

  PYTHONPATH=<dist-packages with nltk and langdetect> python3 bench_python.py \
      ../punkt/data /path/to/shared/conformance/if
"""
import json, os, sys, time

from langdetect import DetectorFactory, detect
from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

DetectorFactory.seed = 0
data_dir, conf_dir = sys.argv[1], sys.argv[2]


def read(name):
    with open(os.path.join(data_dir, name), encoding="utf-8") as f:
        return [l for l in f.read().split("\n") if l]


params = PunktParameters()
params.abbrev_types = set(read("abbrev_types.txt"))
params.sent_starters = set(read("sent_starters.txt"))
params.collocations = set(tuple(l.split("\t")) for l in read("collocations.tab"))
for l in read("ortho_context.tab"):
    t, v = l.split("\t")
    params.ortho_context[t] = int(v)
sent, treebank = PunktSentenceTokenizer(params), NLTKWordTokenizer()
texts = []
for name in ("ifeval_cases.jsonl", "ifeval_synthetic_cases.jsonl"):
    with open(os.path.join(conf_dir, name), encoding="utf-8") as f:
        texts += [json.loads(l)["response"] for l in f]


def safe_detect(x):
    try:
        detect(x)
    except Exception:
        pass


safe_detect("warm up")
for name, fn in [
    ("langdetect.detect", safe_detect),
    ("sent_tokenize", lambda x: sent.tokenize(x)),
    ("word_tokenize", lambda x: [w for s in sent.tokenize(x) for w in treebank.tokenize(s)]),
]:
    start = time.perf_counter()
    for x in texts:
        fn(x)
    print("%-20s %8.0f us/text" % (name, (time.perf_counter() - start) / len(texts) * 1e6))
