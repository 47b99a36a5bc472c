package sandbox

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// lcbPrelude is the import block LiveCodeBench puts before a functional
// (LeetCode-style) solution, so that code relying on it (a bare `List`,
// `defaultdict`, `inf`...) runs as it does there.
const lcbPrelude = `from string import *
from re import *
from datetime import *
from collections import *
from heapq import *
from bisect import *
from copy import *
from math import *
from random import *
from statistics import *
from itertools import *
from functools import *
from operator import *
from io import *
from sys import *
from json import *
from builtins import *
from typing import *
import string
import re
import datetime
import collections
import heapq
import bisect
import copy
import math
import random
import statistics
import itertools
import functools
import operator
import io
import sys
import json
sys.setrecursionlimit(50000)
`

// Files the functional harness uses inside the work directory.
const (
	solutionFile = "main.py"
	harnessFile  = "harness.py"
)

// Lines the harness prints on the result descriptor.
const (
	resultPrefix      = "RESULT "
	unjudgeablePrefix = "UNJUDGEABLE "
)

// functionalHarness returns the Python program that runs one functional test:
// it reads the arguments (one JSON value per line) from stdin, executes the
// solution after LiveCodeBench's prelude, calls fnName on `Solution()` when the
// code defines `class Solution` (else the top-level function), and prints the
// return value as JSON on the original stdout. The solution's own prints go to
// stderr, as LiveCodeBench ignores them. The comparison happens outside the
// container, so a hostile solution never sees the expected answer.
func functionalHarness(fnName string) string {
	return `import os as _rm_os, sys as _rm_sys, json as _rm_json, types as _rm_types
_rm_out = _rm_os.fdopen(_rm_os.dup(1), "w")
_rm_os.dup2(2, 1)
_rm_lines = _rm_sys.stdin.read().split("\n")
while _rm_lines and _rm_lines[-1].strip() == "":
    _rm_lines.pop()
_rm_args = [_rm_json.loads(_rm_l) for _rm_l in _rm_lines]
with open(` + strconv.Quote(solutionFile) + `) as _rm_f:
    _rm_src = _rm_f.read()
_rm_mod = _rm_types.ModuleType("tmp_sol", "")
exec(compile(` + strconv.Quote(lcbPrelude) + ` + "\n\n" + _rm_src, ` + strconv.Quote(solutionFile) + `, "exec"), _rm_mod.__dict__)
_rm_obj = _rm_mod.Solution() if "class Solution" in _rm_src else _rm_mod
_rm_ret = getattr(_rm_obj, ` + strconv.Quote(fnName) + `)(*_rm_args)
if isinstance(_rm_ret, tuple):
    _rm_ret = list(_rm_ret)

def _rm_plain(v):
    # Only what json.loads can produce compares equal to an expected answer.
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise TypeError("non-finite float")
        return v
    if type(v).__module__ == "numpy" and getattr(v, "ndim", None) == 0:
        return _rm_plain(v.item())
    if isinstance(v, list):
        return [_rm_plain(x) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise TypeError("non-string key")
        return {k: _rm_plain(x) for k, x in v.items()}
    raise TypeError(type(v).__name__)

try:
    _rm_text = _rm_json.dumps(_rm_plain(_rm_ret))
except (TypeError, ValueError, RecursionError) as _rm_e:
    _rm_text = None
    _rm_out.write(` + strconv.Quote(unjudgeablePrefix) + ` + str(_rm_e) + "\n")
if _rm_text is not None:
    _rm_out.write(` + strconv.Quote(resultPrefix) + ` + _rm_text + "\n")
_rm_out.flush()
_rm_os._exit(0)
`
}

// syntaxCheck is the Python program that compiles the solution without running
// it: a syntax error is a compile error, not a runtime error of every test.
func syntaxCheck(functional bool) string {
	prelude := ""
	if functional {
		prelude = lcbPrelude + "\n\n"
	}
	return `import sys
with open(` + strconv.Quote(solutionFile) + `, "rb") as f:
    src = f.read()
compile(` + strconv.Quote(prelude) + `.encode() + src, ` + strconv.Quote(solutionFile) + `, "exec")
`
}

// functionalResult reads the harness's output: the returned value as JSON, or
// ok=false when the value could never equal a JSON answer (a set, an object...).
func functionalResult(stdout string) (value json.RawMessage, ok bool, err error) {
	line, _, _ := strings.Cut(stdout, "\n")
	if _, found := strings.CutPrefix(line, unjudgeablePrefix); found {
		return nil, false, nil
	}
	rest, found := strings.CutPrefix(line, resultPrefix)
	if !found {
		return nil, false, fmt.Errorf("functional harness printed no result")
	}
	if !json.Valid([]byte(rest)) {
		return nil, false, fmt.Errorf("functional harness printed invalid JSON")
	}
	return json.RawMessage(rest), true, nil
}

// functionalArgsValid checks that a functional test's input is one JSON value per
// line, as the harness will parse it.
func functionalArgsValid(input string) error {
	lines := strings.Split(input, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			return fmt.Errorf("argument line %d is not JSON", i+1)
		}
	}
	return nil
}

// pyEqualJSON compares two JSON texts as Python compares the values json.loads
// makes of them: 1 == 1.0 == True, floats as IEEE doubles, ints exactly.
func pyEqualJSON(a, b []byte) (bool, error) {
	va, err := decodeJSONNumbers(a)
	if err != nil {
		return false, err
	}
	vb, err := decodeJSONNumbers(b)
	if err != nil {
		return false, err
	}
	return pyEqual(va, vb), nil
}

func decodeJSONNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON value: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode JSON value: trailing data")
	}
	return v, nil
}

// pyNumber is a JSON number as Python holds it: an int (exact) or a float.
type pyNumber struct {
	isFloat bool
	i       *big.Int
	f       float64
}

func toPyNumber(v any) (pyNumber, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return pyNumber{i: big.NewInt(1)}, true
		}
		return pyNumber{i: big.NewInt(0)}, true
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			i, ok := new(big.Int).SetString(s, 10)
			return pyNumber{i: i}, ok
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !math.IsInf(f, 0) {
			return pyNumber{}, false
		}
		return pyNumber{isFloat: true, f: f}, true
	}
	return pyNumber{}, false
}

func (n pyNumber) equal(o pyNumber) bool {
	switch {
	case !n.isFloat && !o.isFloat:
		return n.i.Cmp(o.i) == 0
	case n.isFloat && o.isFloat:
		return n.f == o.f
	}
	f, i := n.f, o.i
	if !n.isFloat {
		f, i = o.f, n.i
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	r := new(big.Rat)
	r.SetFloat64(f)
	return r.IsInt() && r.Num().Cmp(i) == 0
}

func pyEqual(a, b any) bool {
	if na, ok := toPyNumber(a); ok {
		nb, ok := toPyNumber(b)
		return ok && na.equal(nb)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !pyEqual(v, w) {
				return false
			}
		}
		return true
	}
	return false
}
