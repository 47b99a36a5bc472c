"""Regenerates golden_tokenize.jsonl.gz: what NLTK 3.8 (Punkt English,
word_tokenize) and langdetect 1.0.9 (seed 0) say about the conformance
responses and about random strings built to hit the tokenizers' edge cases.

Run with Debian 12's python3-nltk 3.8 and python3-langdetect 1.0.9 importable:
  python3 gen_golden.py ../punkt/data /path/to/shared/conformance/if > /dev/null
The Punkt parameters are built from our embedded punkt_tab files, so this checks
the algorithm port, and the files were checked against english.pickle separately.
"""
import gzip, hashlib, json, random, sys, os

from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
from nltk.tokenize.destructive import NLTKWordTokenizer
from langdetect import DetectorFactory, detect
from langdetect.lang_detect_exception import LangDetectException

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
sent = PunktSentenceTokenizer(params)
treebank = NLTKWordTokenizer()


def record(s, **extra):
    text = s
    spans = []
    for s, e in sent.span_tokenize(text):
        spans.append([s, e])
    words = [w for s in sent.tokenize(text) for w in treebank.tokenize(s)]
    try:
        lang = detect(text)
    except LangDetectException:
        lang = "!nofeatures"
    out = dict(extra)
    out.update(
        sentences=spans,
        words_n=len(words),
        words_sha=hashlib.sha256("\x00".join(words).encode()).hexdigest(),
        upper_words=sum(1 for w in words if w.isupper()),
        lang=lang,
    )
    return out


FRAGMENTS = """Dr. Mr. Mrs. U.S. U.S.A. e.g. i.e. etc. J. K. 3. 12. 1.5 3,000 -4 ... . . . ! ? !! ?! " ' ) ( ] [ } { -- - , ; : The the cat Hello world NASA's don't CAN'T cannot Cannot gonna wanna gimme lemme 'tis 'twas d'ye more'n « » “ ” ‘ ’ * ** *** # $ % & @ < > ` `` '' No. p.m. a.m. Inc. St. vs. Ltd. Jan. Feb. 1 42 ü Ünïcode 日本 é ÉCOLE I A a she However But it's ISN'T o'clock rock'n'roll 'hello' "quoted" (paren) [bracket] x.y.z A.B. c. P.S. P.P.S section SECTION 1st 2nd""".split(" ")
SEPS = [" ", " ", " ", " ", "  ", "\n", "\n\n", "\t", "", " \n", "\u00a0", "\u2003"]

rng = random.Random(12345)
rows = []
for name in ("ifeval_cases.jsonl", "ifeval_synthetic_cases.jsonl"):
    with open(os.path.join(conf_dir, name), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            rows.append(record(row["response"], file=name, key=row["key"]))
for i in range(4000):
    n = rng.randint(1, 40)
    parts = []
    for _ in range(n):
        parts.append(rng.choice(FRAGMENTS))
        parts.append(rng.choice(SEPS))
    text = "".join(parts)
    rows.append(record(text, text=text))
# Short texts in many scripts, where langdetect's random trials decide.
SAMPLES = ["Bonjour le monde", "Hola amigo", "Ciao bella", "Guten Tag", "Olá", "Привет мир", "Привіт світ",
           "مرحبا بالعالم", "नमस्ते दुनिया", "こんにちは世界", "你好世界", "안녕하세요", "สวัสดีชาวโลก",
           "Merhaba dünya", "Hej världen", "Hallo wereld", "Witaj świecie", "Xin chào thế giới", "Habari dunia",
           "ok", "a", "the end", "München", "São Paulo", "Zürich ist schön", "café", "naïve résumé"]
for i in range(1500):
    k = rng.randint(1, 4)
    text = " ".join(rng.choice(SAMPLES) for _ in range(k))
    if rng.random() < 0.3:
        text = text.upper()
    if rng.random() < 0.2:
        text += " http://example.com/x?y=1 me@example.org"
    rows.append(record(text, text=text))

with gzip.open("golden_tokenize.jsonl.gz", "wt", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows), file=sys.stderr)
