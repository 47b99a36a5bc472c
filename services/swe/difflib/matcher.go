// Package difflib is an exact port of the parts of Python's difflib that SWE-RL's
// reward depends on: SequenceMatcher (find_longest_match, get_matching_blocks,
// get_opcodes, get_grouped_opcodes, ratio) with its autojunk "popularity" rule, and
// unified_diff. It also carries Python's str.splitlines() and str.strip(), since a
// reward that must match SWE-RL bit for bit depends on their exact character sets.
//
// Strings are compared as Unicode code points, as Python does, never as bytes or
// UTF-16 units. The port is literal in what it computes (the same matches, in the
// same tie-breaking order) and differs only in how: elements are interned to dense
// integers and find_longest_match's j2len dictionaries are dense arrays.
package difflib

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// ErrBudget reports that a comparison needed more work than its budget allows.
// SequenceMatcher is superlinear (quadratic on repetitive input), so callers facing
// untrusted input bound it rather than let one item hold a core for minutes.
var ErrBudget = errors.New("difflib: comparison exceeds its work budget")

// DefaultBudget is the work budget (inner steps of find_longest_match) that
// NewMatcher callers get when they pass 0: about a second of one core.
const DefaultBudget = 400_000_000

// Match is a matching block: a[A:A+Size] == b[B:B+Size].
type Match struct{ A, B, Size int }

// OpCode is one of get_opcodes' 5-tuples: Tag is 'r' (replace), 'd' (delete),
// 'i' (insert) or 'e' (equal), and a[I1:I2] becomes b[J1:J2].
type OpCode struct {
	Tag            byte
	I1, I2, J1, J2 int
}

// Matcher is difflib.SequenceMatcher(None, a, b, autojunk) over sequences already
// interned to integers: equal ints are equal elements. Use Runes or
// Strings to build one.
type Matcher struct {
	a, b []int32
	// b2j[id] lists the indices of b holding element id, ascending, with popular
	// elements removed (nil) as Python's __chain_b deletes them from b2j.
	b2j [][]int32

	ctx    context.Context
	budget int64
	steps  int64

	// Scratch for find_longest_match. Python keeps j2len, a dict from j to the
	// length of the match ending at a[i-1], b[j], and builds a fresh one per row.
	// Here rows alternate between two arrays indexed by j+1 (so j-1 = -1 is an
	// index), and each entry carries the row that wrote it: an entry from any
	// other row reads as absent, so nothing is ever cleared.
	rows [2][]cell
	gen  uint32

	blocks []Match
}

// cell is one entry of a j2len row: the match length k, valid only in the row
// whose stamp it carries.
type cell struct{ stamp, k uint32 }

// newMatcher interns nothing itself: ids must be in [0, nids).
func newMatcher(ctx context.Context, a, b []int32, nids int, autojunk bool, budget int64) *Matcher {
	if budget <= 0 {
		budget = DefaultBudget
	}
	m := &Matcher{a: a, b: b, ctx: ctx, budget: budget}
	// __chain_b: b2j maps each element to the indices where it occurs in b.
	counts := make([]int32, nids)
	for _, x := range b {
		counts[x]++
	}
	m.b2j = make([][]int32, nids)
	backing := make([]int32, len(b))
	off := 0
	for id, c := range counts {
		m.b2j[id] = backing[off : off : off+int(c)]
		off += int(c)
	}
	for j, x := range b {
		m.b2j[x] = append(m.b2j[x], int32(j))
	}
	// Purge popular elements: with autojunk and len(b) >= 200, an element seen more
	// than len(b)//100 + 1 times is dropped from b2j (but not put in bjunk, so it can
	// still extend a match).
	if n := len(b); autojunk && n >= 200 {
		ntest := n/100 + 1
		for id, idxs := range m.b2j {
			if len(idxs) > ntest {
				m.b2j[id] = nil
			}
		}
	}
	return m
}

// step charges n units of work and reports whether the budget or ctx ran out.
func (m *Matcher) step(n int) error {
	m.steps += int64(n)
	if m.steps > m.budget {
		return fmt.Errorf("%w (%d steps)", ErrBudget, m.budget)
	}
	if m.ctx != nil && m.steps&0xfffff < int64(n) { // roughly every million steps
		if err := m.ctx.Err(); err != nil {
			return fmt.Errorf("difflib: %w", err)
		}
	}
	return nil
}

// findLongestMatch is find_longest_match(alo, ahi, blo, bhi) with no junk function:
// the longest matching block in a[alo:ahi], b[blo:bhi], earliest in a and then in b
// among the longest, extended on both sides by equal (possibly popular) elements.
func (m *Matcher) findLongestMatch(alo, ahi, blo, bhi int) (Match, error) {
	a, b := m.a, m.b
	besti, bestj, bestsize := alo, blo, 0
	if m.rows[0] == nil || m.gen > math.MaxUint32-uint32(len(a))-4 {
		m.rows[0] = make([]cell, len(b)+1)
		m.rows[1] = make([]cell, len(b)+1)
		m.gen = 0
	}
	m.gen++ // the row before alo matches no stamp
	for i := alo; i < ahi; i++ {
		idxs := m.b2j[a[i]]
		if len(idxs) > 0 && int(idxs[0]) < blo {
			// Python skips j < blo one by one; the first j >= blo is the same.
			idxs = idxs[sort.Search(len(idxs), func(x int) bool { return int(idxs[x]) >= blo }):]
		}
		if n := len(idxs); n > 0 && int(idxs[n-1]) >= bhi {
			// Python breaks at the first j >= bhi.
			idxs = idxs[:sort.Search(n, func(x int) bool { return int(idxs[x]) >= bhi })]
		}
		if err := m.step(len(idxs) + 1); err != nil {
			return Match{}, err
		}
		prevStamp := m.gen
		m.gen++
		stamp := m.gen
		// Every j in idxs is in [blo, bhi), so j and j+1 index these rows.
		prev, cur := m.rows[i&1^1][:bhi+1], m.rows[i&1][:bhi+1]
		for _, j32 := range idxs {
			j := int(j32)
			k := uint32(1) // j2len.get(j-1, 0) + 1
			if c := prev[j]; c.stamp == prevStamp {
				k = c.k + 1
			}
			cur[j+1] = cell{stamp: stamp, k: k}
			if int(k) > bestsize {
				besti, bestj, bestsize = i-int(k)+1, j-int(k)+1, int(k)
			}
		}
	}

	// With no junk function bjunk is empty, so Python's two "non-junk" extension
	// loops extend by plain equality and its two "junk" loops never run.
	for besti > alo && bestj > blo && a[besti-1] == b[bestj-1] {
		besti, bestj, bestsize = besti-1, bestj-1, bestsize+1
	}
	for besti+bestsize < ahi && bestj+bestsize < bhi && a[besti+bestsize] == b[bestj+bestsize] {
		bestsize++
	}
	if err := m.step(bestsize); err != nil {
		return Match{}, err
	}
	return Match{besti, bestj, bestsize}, nil
}

// MatchingBlocks is get_matching_blocks(): the non-adjacent matching blocks in
// order, ending with the sentinel {len(a), len(b), 0}.
func (m *Matcher) MatchingBlocks() ([]Match, error) {
	if m.blocks != nil {
		return m.blocks, nil
	}
	la, lb := len(m.a), len(m.b)
	type span struct{ alo, ahi, blo, bhi int }
	queue := []span{{0, la, 0, lb}}
	var blocks []Match
	for len(queue) > 0 {
		q := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		x, err := m.findLongestMatch(q.alo, q.ahi, q.blo, q.bhi)
		if err != nil {
			return nil, err
		}
		if x.Size == 0 {
			continue
		}
		blocks = append(blocks, x)
		if q.alo < x.A && q.blo < x.B {
			queue = append(queue, span{q.alo, x.A, q.blo, x.B})
		}
		if x.A+x.Size < q.ahi && x.B+x.Size < q.bhi {
			queue = append(queue, span{x.A + x.Size, q.ahi, x.B + x.Size, q.bhi})
		}
	}
	slices.SortFunc(blocks, func(p, q Match) int {
		if p.A != q.A {
			return p.A - q.A
		}
		if p.B != q.B {
			return p.B - q.B
		}
		return p.Size - q.Size
	})
	// Collapse adjacent blocks.
	var i1, j1, k1 int
	out := make([]Match, 0, len(blocks)+1)
	for _, x := range blocks {
		if i1+k1 == x.A && j1+k1 == x.B {
			k1 += x.Size
			continue
		}
		if k1 > 0 {
			out = append(out, Match{i1, j1, k1})
		}
		i1, j1, k1 = x.A, x.B, x.Size
	}
	if k1 > 0 {
		out = append(out, Match{i1, j1, k1})
	}
	out = append(out, Match{la, lb, 0})
	m.blocks = out
	return out, nil
}

// Ratio is ratio(): 2.0*M/T, where M is the number of matched elements and T the
// total length of both sequences, and 1.0 when both are empty.
func (m *Matcher) Ratio() (float64, error) {
	blocks, err := m.MatchingBlocks()
	if err != nil {
		return 0, err
	}
	matches := 0
	for _, x := range blocks {
		matches += x.Size
	}
	return calculateRatio(matches, len(m.a)+len(m.b)), nil
}

// calculateRatio is difflib's _calculate_ratio. 2.0*matches is exact in a float64
// for any length that fits in memory, so this rounds exactly once, as Python does.
func calculateRatio(matches, length int) float64 {
	if length > 0 {
		return 2.0 * float64(matches) / float64(length)
	}
	return 1.0
}

// OpCodes is get_opcodes().
func (m *Matcher) OpCodes() ([]OpCode, error) {
	blocks, err := m.MatchingBlocks()
	if err != nil {
		return nil, err
	}
	var i, j int
	var codes []OpCode
	for _, x := range blocks {
		var tag byte
		switch {
		case i < x.A && j < x.B:
			tag = 'r'
		case i < x.A:
			tag = 'd'
		case j < x.B:
			tag = 'i'
		}
		if tag != 0 {
			codes = append(codes, OpCode{tag, i, x.A, j, x.B})
		}
		i, j = x.A+x.Size, x.B+x.Size
		if x.Size > 0 {
			codes = append(codes, OpCode{'e', x.A, i, x.B, j})
		}
	}
	return codes, nil
}

// GroupedOpCodes is get_grouped_opcodes(n): hunks of changes with up to n lines
// of context.
func (m *Matcher) GroupedOpCodes(n int) ([][]OpCode, error) {
	codes, err := m.OpCodes()
	if err != nil {
		return nil, err
	}
	if len(codes) == 0 {
		codes = []OpCode{{'e', 0, 1, 0, 1}}
	}
	if c := &codes[0]; c.Tag == 'e' {
		c.I1, c.J1 = max(c.I1, c.I2-n), max(c.J1, c.J2-n)
	}
	if c := &codes[len(codes)-1]; c.Tag == 'e' {
		c.I2, c.J2 = min(c.I2, c.I1+n), min(c.J2, c.J1+n)
	}
	nn := n + n
	var groups [][]OpCode
	var group []OpCode
	for _, c := range codes {
		if c.Tag == 'e' && c.I2-c.I1 > nn {
			group = append(group, OpCode{'e', c.I1, min(c.I2, c.I1+n), c.J1, min(c.J2, c.J1+n)})
			groups = append(groups, group)
			group = nil
			c.I1, c.J1 = max(c.I1, c.I2-n), max(c.J1, c.J2-n)
		}
		group = append(group, c)
	}
	if len(group) > 0 && !(len(group) == 1 && group[0].Tag == 'e') {
		groups = append(groups, group)
	}
	return groups, nil
}
