package verify

import (
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// maxDepth bounds recursion so that "((((..." cannot exhaust the stack.
const maxDepth = 200

// functions maps the names of known functions (commands or plain words) to
// their canonical name.
var functions = map[string]string{
	"sin": "sin", "cos": "cos", "tan": "tan", "cot": "cot", "sec": "sec", "csc": "csc",
	"arcsin": "asin", "arccos": "acos", "arctan": "atan", "asin": "asin", "acos": "acos",
	"atan": "atan", "arccot": "acot", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
	"ln": "ln", "log": "log", "lg": "log10", "exp": "exp", "sqrt": "sqrt", "abs": "abs",
	"max": "max", "min": "min", "gcd": "gcd", "lcm": "lcm", "floor": "floor", "ceil": "ceil",
	"det": "det", "arg": "arg", "Re": "re", "Im": "im", "operatorname": "",
}

// greek letters are variables.
var greek = map[string]bool{
	"alpha": true, "beta": true, "gamma": true, "delta": true, "epsilon": true, "varepsilon": true,
	"zeta": true, "eta": true, "theta": true, "vartheta": true, "iota": true, "kappa": true,
	"lambda": true, "mu": true, "nu": true, "xi": true, "rho": true, "sigma": true, "tau": true,
	"upsilon": true, "phi": true, "varphi": true, "chi": true, "psi": true, "omega": true,
	"Gamma": true, "Delta": true, "Theta": true, "Lambda": true, "Xi": true, "Sigma": true,
	"Phi": true, "Psi": true, "Omega": true, "ell": true,
}

// units are words dropped after a value: "125 miles", "15 cm^2".
var units = map[string]bool{
	"cm": true, "km": true, "mm": true, "kg": true, "mg": true, "ml": true, "mL": true, "miles": true,
	"mile": true, "meters": true, "meter": true, "metres": true, "metre": true, "inches": true,
	"inch": true, "feet": true, "foot": true, "ft": true, "yards": true, "yard": true, "yd": true,
	"seconds": true, "second": true, "minutes": true, "minute": true, "mins": true, "hours": true,
	"hour": true, "hr": true, "hrs": true, "days": true, "day": true, "weeks": true, "week": true,
	"months": true, "years": true, "year": true, "dollars": true, "dollar": true, "cents": true,
	"cent": true, "yuan": true, "euros": true, "euro": true, "units": true, "unit": true,
	"degrees": true, "degree": true, "deg": true, "sq": true, "square": true, "cubic": true,
	"liters": true, "litres": true, "liter": true, "grams": true, "gram": true, "kilograms": true,
	"mph": true, "points": true, "people": true, "students": true, "ways": true, "pounds": true,
	"lbs": true, "oz": true, "ounces": true, "gallons": true, "pages": true, "times": true,
	"dm": true, "cents.": true, "rad": true, "radians": true, "km/h": true, "m/s": true,
}

// funcLetters followed by "(" apply an undefined function rather than multiply.
const funcLetters = "fghFGH"

type parser struct {
	toks      []token
	pos       int
	b         *budget
	depth     int
	absDepth  int
	strictCmd bool // \frac12 and \sqrt3 are errors rather than repaired
}

// parseMath parses one answer (already cut out of its response) into a tree.
func parseMath(s string, b *budget, strictCmd bool) (*node, error) {
	toks, err := lex(s, b)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, b: b, strictCmd: strictCmd}
	groups, err := p.parseSeq(func(t token) bool { return t.k == tEOF })
	if err != nil {
		return nil, err
	}
	if p.peek().k != tEOF {
		return nil, errf("unexpected %q", p.peek().text)
	}
	return fromGroups(groups, kSet)
}

// fromGroups builds the value of a list: "a" alone is a; "a, b" is a set (or
// the kind asked for); "p=5, q=2; p=7, q=2" is a set of lists.
func fromGroups(groups [][]*node, k kind) (*node, error) {
	var elems []*node
	if len(groups) > 1 {
		for _, g := range groups {
			switch len(g) {
			case 0:
			case 1:
				elems = append(elems, g[0])
			default:
				elems = append(elems, &node{k: kSet, args: g})
			}
		}
	} else {
		elems = groups[0]
	}
	switch len(elems) {
	case 0:
		return nil, errf("empty answer")
	case 1:
		if k == kSet {
			return elems[0], nil
		}
	}
	return &node{k: k, args: elems}, nil
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{k: tEOF}
}

func (p *parser) peekAt(off int) token {
	if p.pos+off < len(p.toks) {
		return p.toks[p.pos+off]
	}
	return token{k: tEOF}
}

func (p *parser) isOp(text string) bool {
	t := p.peek()
	return t.k == tOp && t.text == text
}

func (p *parser) expect(text string) error {
	if !p.isOp(text) {
		return errf("expected %q, found %q", text, p.peek().text)
	}
	p.pos++
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errf("nested too deep")
	}
	return p.b.step(1)
}

func (p *parser) leave() { p.depth-- }

// isSeparator reports whether t separates the elements of a list.
func isSeparator(t token) (sep, semicolon bool) {
	switch t.k {
	case tOp:
		return t.text == "," || t.text == ";", t.text == ";"
	case tIdent:
		return t.text == "and" || t.text == "or", false
	case tText:
		w := strings.TrimSpace(t.text)
		w = strings.Trim(w, ", ")
		return w == "and" || w == "or" || w == "" || w == "," || strings.HasSuffix(" "+w, " and") || strings.HasSuffix(" "+w, " or"), false
	}
	return false, false
}

func (p *parser) parseSeq(isEnd func(token) bool) ([][]*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	groups := [][]*node{{}}
	for {
		for {
			sep, semi := isSeparator(p.peek())
			if !sep {
				break
			}
			p.pos++
			if semi && len(groups[len(groups)-1]) > 0 {
				groups = append(groups, nil)
			}
		}
		if isEnd(p.peek()) {
			return groups, nil
		}
		e, err := p.parseRel()
		if err != nil {
			return nil, err
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], e)
		t := p.peek()
		if sep, _ := isSeparator(t); sep || isEnd(t) {
			continue
		}
		return nil, errf("unexpected %q", t.text)
	}
}

func relOp(t token) string {
	if t.k != tOp {
		return ""
	}
	switch t.text {
	case "=", "<", ">", "<=", ">=", "!=", "in", "approx":
		return t.text
	}
	return ""
}

func (p *parser) parseRel() (*node, error) {
	first, err := p.parseSum()
	if err != nil {
		return nil, err
	}
	rel := &node{k: kRel, args: []*node{first}}
	for {
		op := relOp(p.peek())
		if op == "" {
			break
		}
		p.pos++
		next, err := p.parseSum()
		if err != nil {
			return nil, err
		}
		rel.ops = append(rel.ops, op)
		rel.args = append(rel.args, next)
	}
	if len(rel.ops) == 0 {
		return first, nil
	}
	// "x = 1/3 ≈ 0.33": the approximation adds nothing; "x ≈ 11" is x = 11;
	// "2.3 ≈ 2" keeps the value written first.
	for i, op := range rel.ops {
		if op != "approx" {
			continue
		}
		if i > 0 {
			rel.args, rel.ops = rel.args[:i+1], rel.ops[:i]
		} else if isAssignTarget(rel.args[0]) {
			rel.ops[0] = "="
			rel.args, rel.ops = rel.args[:2], rel.ops[:1]
		} else {
			return rel.args[0], nil
		}
		break
	}
	return rel, nil
}

func (p *parser) parseSum() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.k == tOp && (t.text == "+" || t.text == "-"):
			p.pos++
			right, err := p.parseTerm()
			if err != nil {
				return nil, err
			}
			if t.text == "-" {
				right = &node{k: kNeg, args: []*node{right}}
			}
			left = addNodes(left, right)
		case t.k == tCmd && (t.text == "pm" || t.text == "mp"):
			p.pos++
			right, err := p.parseTerm()
			if err != nil {
				return nil, err
			}
			left = &node{k: kPM, args: []*node{left, right}, name: pmName(t.text)}
		case t.k == tCmd && (t.text == "cup" || t.text == "setminus") || t.k == tIdent && t.text == "U" && left.isCollection():
			p.pos++
			right, err := p.parseTerm()
			if err != nil {
				return nil, err
			}
			if t.text == "setminus" { // \mathbb{R} \setminus \{2\}
				if left = setDifference(left, right, p.b); left == nil {
					return nil, errf("set difference is read only between sets of numbers")
				}
				continue
			}
			if left.k == kUnion {
				left = &node{k: kUnion, args: append(append([]*node{}, left.args...), right)}
			} else {
				left = &node{k: kUnion, args: []*node{left, right}}
			}
		default:
			return left, nil
		}
	}
}

func addNodes(a, b *node) *node {
	if a.k == kAdd {
		return &node{k: kAdd, args: append(append([]*node{}, a.args...), b)}
	}
	return &node{k: kAdd, args: []*node{a, b}}
}

func mulNodes(a, b *node) *node {
	if a.k == kMul {
		return &node{k: kMul, args: append(append([]*node{}, a.args...), b)}
	}
	return &node{k: kMul, args: []*node{a, b}}
}

// skipUnit drops a unit written after a value ("15 cm^2", "3\text{ miles}")
// and reports whether it did.
func (p *parser) skipUnit() bool {
	t := p.peek()
	isUnit := t.k == tText && isWords(t.text) && !isLetterAnswer(t.text) && !isSep(t) || t.k == tIdent && units[t.text]
	if !isUnit {
		return false
	}
	p.pos++
	if p.isOp("^") && p.peekAt(1).k == tNum {
		p.pos += 2
	}
	return true
}

func isPercentWord(t token) bool {
	if t.k != tIdent && t.k != tText {
		return false
	}
	w := strings.ToLower(strings.TrimSpace(t.text))
	return w == "percent" || w == "pct" || w == "percentage" || w == "%"
}

func (p *parser) parseTerm() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.k == tOp && (t.text == "*" || t.text == "/" || t.text == ":") ||
			t.k == tCmd && (t.text == "cdot" || t.text == "times" || t.text == "div"):
			p.pos++
			right, err := p.parseUnary()
			if err != nil {
				return nil, err
			}
			if t.text == "/" || t.text == ":" || t.text == "div" {
				left = &node{k: kDiv, args: []*node{left, right}}
			} else {
				left = mulNodes(left, right)
			}
		case isPercentWord(t) || t.k == tOp && t.text == "%":
			p.pos++
			left = &node{k: kPercent, args: []*node{left}}
		case t.k == tCmd && t.text == "circ":
			p.pos++ // degrees are dropped: 90^\circ is 90
			left = p.arcMinutes(left)
		case t.k == tIdent && ordinalSuffix(left, t.text, true):
			p.pos++ // 12th is 12
		case p.skipUnit():
		case p.startsPrimary(t):
			right, err := p.parsePower()
			if err != nil {
				return nil, err
			}
			if mixed := mixedNumber(left, right); mixed != nil {
				left = mixed
				continue
			}
			left = mulNodes(left, right)
		default:
			return left, nil
		}
	}
}

// mixedNumber reads 918\frac{1}{2} as 918 + 1/2: an integer followed by a
// proper fraction of integers is a mixed number, not a product.
func mixedNumber(whole, frac *node) *node {
	if whole.k != kNum || whole.inexact || !whole.num.IsInt() || frac.k != kDiv {
		return nil
	}
	num, den := frac.args[0], frac.args[1]
	if num.k != kNum || den.k != kNum || !num.num.IsInt() || !den.num.IsInt() || num.inexact || den.inexact ||
		num.num.Sign() <= 0 || num.num.Cmp(den.num) >= 0 {
		return nil
	}
	f := new(big.Rat).Quo(num.num, den.num)
	if whole.num.Sign() < 0 {
		f.Neg(f)
	}
	return numNode(f.Add(f, whole.num), false)
}

func (p *parser) startsPrimary(t token) bool {
	switch t.k {
	case tNum, tText:
		return t.k == tNum || !isSep(t)
	case tIdent:
		return t.text != "and" && t.text != "or" && !(t.text == "U" && p.peekAt(1).k == tOp && (p.peekAt(1).text == "(" || p.peekAt(1).text == "["))
	case tCmd:
		switch t.text {
		case "cdot", "times", "div", "pm", "mp", "cup", "cap", "circ", "dots", "setminus", "end", "to",
			"rightarrow", "Rightarrow", "implies", "iff", "rfloor", "rceil":
			return false
		}
		return true
	case tOp:
		switch t.text {
		case "(", "[", "{", `\{`:
			return true
		case "|":
			return p.absDepth == 0
		}
	}
	return false
}

func isSep(t token) bool { s, _ := isSeparator(t); return s }

func (p *parser) parseUnary() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch {
	case t.k == tOp && t.text == "-":
		p.pos++
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if x.k == kNum {
			n := numNode(new(big.Rat).Neg(x.num), x.inexact)
			n.places = x.places
			return n, nil
		}
		return &node{k: kNeg, args: []*node{x}}, nil
	case t.k == tOp && t.text == "+":
		p.pos++
		return p.parseUnary()
	case t.k == tCmd && (t.text == "pm" || t.text == "mp"):
		p.pos++
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &node{k: kPM, args: []*node{intNode(0), x}, name: pmName(t.text)}, nil
	case (t.k == tText || t.k == tIdent) && fillerWords[strings.ToLower(strings.TrimSpace(t.text))] &&
		(p.startsPrimary(p.peekAt(1)) || p.peekAt(1).k == tOp && p.peekAt(1).text == "-"):
		p.pos++ // "\text{only } x = 0" is x = 0
		return p.parseUnary()
	}
	return p.parsePower()
}

func (p *parser) parsePower() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	base, err := p.parsePostfix()
	if err != nil {
		return nil, err
	}
	if !p.isOp("^") {
		return base, nil
	}
	p.pos++
	if t := p.peek(); t.k == tCmd && t.text == "circ" {
		p.pos++
		return p.arcMinutes(base), nil
	}
	exp, err := p.parseExpArg()
	if err != nil {
		return nil, err
	}
	if exp == nil { // ^{\circ}
		return p.arcMinutes(base), nil
	}
	if isOrdinal(base, exp) { // 12^{\text{th}}
		return base, nil
	}
	n := &node{k: kPow, args: []*node{base, exp}}
	for p.isOp("!") && !(p.peekAt(1).k == tOp && p.peekAt(1).text == "=") {
		p.pos++
		n = &node{k: kFunc, name: "fact", args: []*node{n}}
	}
	return n, nil
}

// parseExpArg reads an exponent: a braced group, or one token ("x^2", "e^x",
// "2^-1"), with a right-associative tower after it.
func (p *parser) parseExpArg() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	var exp *node
	var err error
	switch t := p.peek(); {
	case t.k == tOp && t.text == "{":
		if p.peekAt(1).k == tCmd && p.peekAt(1).text == "circ" && p.peekAt(2).k == tOp && p.peekAt(2).text == "}" {
			p.pos += 3
			return nil, nil
		}
		p.pos++
		exp, err = p.group("}")
	case t.k == tOp && (t.text == "-" || t.text == "+"):
		p.pos++
		exp, err = p.parseExpArg()
		if err == nil && exp != nil && t.text == "-" {
			exp = &node{k: kNeg, args: []*node{exp}}
		}
	default:
		exp, err = p.parsePostfix()
	}
	if err != nil || exp == nil {
		return exp, err
	}
	if p.isOp("^") {
		p.pos++
		top, err := p.parseExpArg()
		if err != nil {
			return nil, err
		}
		if top != nil {
			exp = &node{k: kPow, args: []*node{exp, top}}
		}
	}
	return exp, nil
}

// group parses a list up to closer and returns its single value (or a set).
func (p *parser) group(closer string) (*node, error) {
	groups, err := p.parseSeq(func(t token) bool { return t.k == tOp && t.text == closer || t.k == tEOF })
	if err != nil {
		return nil, err
	}
	if err := p.expect(closer); err != nil {
		return nil, err
	}
	return fromGroups(groups, kSet)
}

func (p *parser) parsePostfix() (*node, error) {
	n, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.k == tOp && t.text == "!" && !(p.peekAt(1).k == tOp && p.peekAt(1).text == "="):
			p.pos++
			n = &node{k: kFunc, name: "fact", args: []*node{n}}
		case t.k == tOp && t.text == "'":
			p.pos++
			if n.k == kSym {
				n = &node{k: kSym, name: n.name + "'"}
			} else {
				n = &node{k: kFunc, name: "prime", args: []*node{n}}
			}
		case t.k == tOp && t.text == "_":
			p.pos++
			sub, err := p.parseSubscript()
			if err != nil {
				return nil, err
			}
			n = subscripted(n, sub)
			if n.k == kSym && strings.ContainsRune(funcLetters, rune(n.name[0])) && p.isOp("(") {
				args, err := p.callArgs()
				if err != nil {
					return nil, err
				}
				n = &node{k: kFunc, name: n.name, args: args}
			}
		default:
			return n, nil
		}
	}
}

func (p *parser) parseSubscript() (*node, error) {
	if p.isOp("{") {
		p.pos++
		return p.group("}")
	}
	t := p.peek()
	if t.k == tIdent && len(t.text) > 1 { // x_ab is x_{a}b in LaTeX; keep the first letter
		p.toks[p.pos].text = t.text[1:]
		return &node{k: kSym, name: t.text[:1]}, nil
	}
	return p.parsePrimary()
}

// subscripted names x_1, a_{37}, S_{ABC} as variables of their own; a
// subscript that is an expression (F_{n-1}) makes an undefined function; a
// number's subscript is its base (204_5), kept as written.
func subscripted(n, sub *node) *node {
	plain := isPlainName(sub)
	switch {
	case n.k == kNum:
		return &node{k: kText, name: n.num.RatString() + "_" + sub.String()}
	case (n.k == kSym || n.k == kConst || n.k == kText) && plain:
		return &node{k: kSym, name: n.name + "_" + sub.String()}
	case n.k == kSym || n.k == kConst:
		return &node{k: kFunc, name: n.name + "_", args: []*node{sub}}
	}
	return n
}

func isPlainName(n *node) bool {
	switch n.k {
	case kNum, kSym, kConst, kText:
		return true
	case kMul:
		for _, a := range n.args {
			if !isPlainName(a) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *parser) callArgs() ([]*node, error) {
	p.pos++ // (
	groups, err := p.parseSeq(func(t token) bool { return t.k == tOp && t.text == ")" || t.k == tEOF })
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	var args []*node
	for _, g := range groups {
		args = append(args, g...)
	}
	if len(args) == 0 {
		return nil, errf("empty call")
	}
	return args, nil
}

func (p *parser) parsePrimary() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch t.k {
	case tEOF:
		return nil, errf("unexpected end")
	case tNum:
		p.pos++
		r, ok := new(big.Rat).SetString(t.text)
		if !ok {
			return nil, errf("bad number %q", t.text)
		}
		n := numNode(r, strings.ContainsAny(t.text, ".eE"))
		n.places = decimalPlaces(t.text)
		return n, nil
	case tIdent:
		return p.parseIdent()
	case tText:
		p.pos++
		if fn, ok := functions[strings.TrimSpace(t.text)]; ok && fn != "" && p.startsPrimary(p.peek()) { // \operatorname{lcm}(4,6)
			return p.parseFunc(fn)
		}
		return textNode(t.text)
	case tCmd:
		return p.parseCommand()
	case tOp:
		switch t.text {
		case "(", "[":
			p.pos++
			return p.bracketed(t.text)
		case "{":
			p.pos++
			return p.group("}")
		case `\{`:
			p.pos++
			if n := p.setBuilder(); n != nil {
				return n, nil
			}
			groups, err := p.parseSeq(func(t token) bool { return t.k == tOp && t.text == `\}` || t.k == tEOF })
			if err != nil {
				return nil, err
			}
			if err := p.expect(`\}`); err != nil {
				return nil, err
			}
			var elems []*node
			for _, g := range groups {
				elems = append(elems, g...)
			}
			return &node{k: kSet, args: elems}, nil
		case "|":
			p.pos++
			p.absDepth++
			x, err := p.parseSum()
			p.absDepth--
			if err != nil {
				return nil, err
			}
			if err := p.expect("|"); err != nil {
				return nil, err
			}
			return &node{k: kFunc, name: "abs", args: []*node{x}}, nil
		}
	}
	return nil, errf("unexpected %q", t.text)
}

// setBuilder reads {x | x > 0} (or {x : ...}, {x \in \mathbb{R} \mid ...}) as
// the set its conditions describe: conditions joined by "or" are a union, by
// "and" or a comma an intersection. It returns nil with the position unchanged
// when the braces hold something else.
func (p *parser) setBuilder() *node {
	start := p.pos
	v := p.builderVariable()
	if v == "" || !(p.isOp("|") || p.isOp(":")) {
		p.pos = start
		return nil
	}
	p.pos++
	s := p.builderConditions(v)
	if s == nil || !p.isOp(`\}`) {
		p.pos = start
		return nil
	}
	p.pos++
	return s
}

// builderVariable reads the variable a set builder ranges over: x, or
// x \in \mathbb{R}.
func (p *parser) builderVariable() string {
	t := p.peek()
	if !(t.k == tIdent && len(t.text) == 1 || t.k == tCmd && greek[t.text]) {
		return ""
	}
	p.pos++
	if p.isOp("in") {
		if r := p.peekAt(1); r.k != tCmd || r.text != "reals" {
			return ""
		}
		p.pos += 2
	}
	return t.text
}

// builderConditions reads the conditions of a set builder on variable v.
func (p *parser) builderConditions(v string) *node {
	var union, inter []*node
	for {
		cond, err := p.parseRel()
		if err != nil || cond.k != kRel {
			return nil
		}
		vars := map[string]bool{}
		cond.vars(vars)
		set := relToSet(cond)
		if set == nil || len(vars) != 1 || !vars[v] {
			return nil
		}
		inter = append(inter, set)
		t := p.peek()
		sep, _ := isSeparator(t)
		if !sep {
			break
		}
		p.pos++
		if w := strings.TrimSpace(t.text); w == "or" || strings.HasSuffix(" "+w, " or") {
			union = append(union, intersectAll(inter, p.b))
			inter = nil
		}
	}
	union = append(union, intersectAll(inter, p.b))
	if slices.Contains(union, nil) {
		return nil
	}
	if len(union) == 1 {
		return union[0]
	}
	return &node{k: kUnion, args: union}
}

func (p *parser) bracketed(open string) (*node, error) {
	groups, err := p.parseSeq(func(t token) bool {
		return t.k == tOp && (t.text == ")" || t.text == "]") || t.k == tEOF
	})
	if err != nil {
		return nil, err
	}
	closeTok := p.peek()
	if closeTok.k != tOp || closeTok.text != ")" && closeTok.text != "]" {
		return nil, errf("unbalanced %q", open)
	}
	p.pos++
	var elems []*node
	for _, g := range groups {
		elems = append(elems, g...)
	}
	closer := closeTok.text
	switch len(elems) {
	case 0:
		return nil, errf("empty brackets")
	case 1:
		if open == "(" && closer == "]" || open == "[" && closer == ")" {
			return nil, errf("half-open interval needs two ends")
		}
		return elems[0], nil
	case 2:
		if open == "[" || closer == "]" {
			return &node{k: kInterval, args: elems, lopen: open == "(", ropen: closer == ")"}, nil
		}
		return &node{k: kTuple, args: elems, paren: true}, nil
	}
	return &node{k: kTuple, args: elems}, nil
}

// decimalPlaces counts the digits a decimal literal gives after the point:
// 0.290 gives 3, 1.5e2 gives 0.
func decimalPlaces(s string) int {
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	_, frac, _ := strings.Cut(mant, ".")
	e, _ := strconv.Atoi(exp)
	return max(0, len(frac)-e)
}

// textNode reads the contents of \text{...}: a number, a letter ("(C)" is
// C), or words.
func textNode(s string) (*node, error) {
	w := strings.TrimSpace(s)
	if r, ok := new(big.Rat).SetString(strings.ReplaceAll(w, ",", "")); ok && w != "" && !strings.ContainsAny(w, "/") {
		return numNode(r, strings.ContainsAny(w, ".eE")), nil
	}
	if w == "e" { // \mathrm{e}
		return &node{k: kConst, name: "e"}, nil
	}
	if l := letterAnswer(w); l != "" {
		return &node{k: kSym, name: l, text: true}, nil
	}
	if w == "" {
		return nil, errf("empty text")
	}
	// \text{Monday or Tuesday} offers two answers.
	if parts := strings.Split(" "+w+" ", " or "); len(parts) > 1 {
		alts := make([]*node, len(parts))
		for i, part := range parts {
			part = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "either "))
			if part == "" {
				return &node{k: kText, name: w}, nil
			}
			alts[i] = &node{k: kText, name: part}
		}
		return &node{k: kSet, args: alts}, nil
	}
	return &node{k: kText, name: w}, nil
}

// letterAnswer returns the letter of "C", "(C)" or "C)", or "".
func letterAnswer(w string) string {
	w = strings.TrimSpace(strings.Trim(strings.TrimSpace(w), "()."))
	if len(w) == 1 && isLetter(w[0]) {
		return w
	}
	return ""
}

func isLetterAnswer(w string) bool { return letterAnswer(w) != "" }

func isWords(s string) bool {
	w := strings.TrimSpace(s)
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(isLetter(c) || c == ' ' || c == '-' || c == '/' || c == '.' || c >= 0x80 || c == '^' || isDigit(c) && i > 0) {
			return false
		}
	}
	return isLetter(w[0]) || w[0] >= 0x80
}

func (p *parser) parseIdent() (*node, error) {
	t := p.peek()
	p.pos++
	w := t.text
	if name, ok := functions[w]; ok && name != "" && len(w) > 1 {
		if next := p.peek(); next.k == tOp && (next.text == "(" || next.text == "^" || next.text == "{") || p.startsPrimary(next) {
			return p.parseFunc(name)
		}
	}
	switch w {
	case "pi":
		return &node{k: kConst, name: "pi"}, nil
	case "oo", "inf", "infty", "infinity", "Infinity":
		return &node{k: kConst, name: "inf"}, nil
	case "e":
		return &node{k: kConst, name: "e"}, nil
	case "i":
		return &node{k: kConst, name: "i"}, nil
	case "sqrt":
		return p.parseFunc("sqrt")
	}
	if len(w) == 1 {
		if strings.ContainsRune(funcLetters, rune(w[0])) && p.isOp("(") {
			args, err := p.callArgs()
			if err != nil {
				return nil, err
			}
			return &node{k: kFunc, name: w, args: args}, nil
		}
		return &node{k: kSym, name: w}, nil
	}
	if len(w) >= 3 {
		return &node{k: kSym, name: w}, nil // a word: Evelyn, odd, even
	}
	// Two letters are a product: ab, xy, AB.
	var n *node
	for i := 0; i < len(w); i++ {
		var s *node
		switch w[i] {
		case 'e':
			s = &node{k: kConst, name: "e"}
		default:
			s = &node{k: kSym, name: w[i : i+1]}
		}
		if n == nil {
			n = s
		} else {
			n = mulNodes(n, s)
		}
	}
	if last := w[len(w)-1]; strings.ContainsRune(funcLetters, rune(last)) && p.isOp("(") {
		args, err := p.callArgs()
		if err != nil {
			return nil, err
		}
		return mulNodes(n, &node{k: kFunc, name: w[len(w)-1:], args: args}), nil
	}
	return n, nil
}

func (p *parser) parseCommand() (*node, error) {
	t := p.peek()
	p.pos++
	name := t.text
	if fn, ok := functions[name]; ok && fn != "" && name != "sqrt" {
		if (fn == "max" || fn == "min") && p.isOp("=") { // "\max = 5" names a value
			return &node{k: kSym, name: fn}, nil
		}
		return p.parseFunc(fn)
	}
	if greek[name] {
		return &node{k: kSym, name: name}, nil
	}
	switch name {
	case "pi":
		return &node{k: kConst, name: "pi"}, nil
	case "infty", "infin", "infinity":
		return &node{k: kConst, name: "inf"}, nil
	case "imath", "jmath":
		return &node{k: kConst, name: "i"}, nil
	case "emptyset", "varnothing":
		return &node{k: kSet}, nil
	case "reals":
		inf := &node{k: kConst, name: "inf"}
		return &node{k: kInterval, args: []*node{{k: kNeg, args: []*node{inf}}, inf}, lopen: true, ropen: true}, nil
	case "frac":
		num, err := p.cmdArg()
		if err != nil {
			return nil, err
		}
		den, err := p.cmdArg()
		if err != nil {
			return nil, err
		}
		return &node{k: kDiv, args: []*node{num, den}}, nil
	case "binom":
		n, err := p.cmdArg()
		if err != nil {
			return nil, err
		}
		k, err := p.cmdArg()
		if err != nil {
			return nil, err
		}
		return &node{k: kFunc, name: "binom", args: []*node{n, k}}, nil
	case "sqrt":
		var index *node
		if p.isOp("[") {
			p.pos++
			var err error
			if index, err = p.group("]"); err != nil {
				return nil, err
			}
		}
		x, err := p.cmdArg()
		if err != nil {
			return nil, err
		}
		if index == nil {
			return &node{k: kFunc, name: "sqrt", args: []*node{x}}, nil
		}
		return &node{k: kPow, args: []*node{x, {k: kDiv, args: []*node{intNode(1), index}}}}, nil
	case "lfloor", "lceil":
		x, err := p.parseSum()
		if err != nil {
			return nil, err
		}
		closer := "rfloor"
		if name == "lceil" {
			closer = "rceil"
		}
		if c := p.peek(); c.k != tCmd || c.text != closer {
			return nil, errf("unclosed \\%s", name)
		}
		p.pos++
		return &node{k: kFunc, name: strings.TrimPrefix(name, "l"), args: []*node{x}}, nil
	case "begin":
		return p.parseEnv()
	case "sum", "prod":
		return p.parseBigOp(name)
	}
	return nil, errf("unsupported command \\%s", name)
}

// cmdArg reads the argument of \frac, \sqrt, \binom: a braced group, or (when
// malformed operators are repaired, as in \frac12) a single digit or token.
func (p *parser) cmdArg() (*node, error) {
	if p.isOp("{") {
		p.pos++
		return p.group("}")
	}
	if p.strictCmd {
		return nil, errf("command argument without braces")
	}
	t := p.peek()
	if t.k == tNum && len(t.text) > 1 && !strings.ContainsAny(t.text, ".") {
		p.toks[p.pos].text = t.text[1:]
		return intNode(int64(t.text[0] - '0')), nil
	}
	if t.k == tIdent && len(t.text) > 1 {
		p.toks[p.pos].text = t.text[1:]
		return &node{k: kSym, name: t.text[:1]}, nil
	}
	return p.parsePostfix()
}

// parseFunc reads a function's power (\sin^2 x), base (\log_2 x) and argument.
func (p *parser) parseFunc(name string) (*node, error) {
	var power, base *node
	for i := 0; i < 2; i++ {
		if p.isOp("^") {
			p.pos++
			e, err := p.parseExpArg()
			if err != nil {
				return nil, err
			}
			if e != nil && e.k == kNum && e.num.Cmp(big.NewRat(-1, 1)) == 0 && strings.Contains("sin cos tan cot", name) {
				name = "a" + name
			} else {
				power = e
			}
		}
		if p.isOp("_") && name == "log" {
			p.pos++
			b, err := p.parseSubscript()
			if err != nil {
				return nil, err
			}
			base = b
		}
	}
	var args []*node
	switch {
	case p.isOp("("):
		a, err := p.callArgs()
		if err != nil {
			return nil, err
		}
		args = a
	case p.isOp("{"):
		p.pos++
		a, err := p.group("}")
		if err != nil {
			return nil, err
		}
		args = []*node{a}
	default:
		// \sin 2x is sin(2x); \sin b \cos a is sin(b)·cos(a).
		a, err := p.parseUnaryNoImplicit()
		if err != nil {
			return nil, err
		}
		for p.startsPrimary(p.peek()) && !p.startsFunc(p.peek()) && !p.isOp("(") {
			b, err := p.parsePower()
			if err != nil {
				return nil, err
			}
			a = mulNodes(a, b)
		}
		args = []*node{a}
	}
	var n *node
	if base != nil && len(args) == 1 {
		n = &node{k: kDiv, args: []*node{{k: kFunc, name: "ln", args: args}, {k: kFunc, name: "ln", args: []*node{base}}}}
	} else {
		n = &node{k: kFunc, name: name, args: args}
	}
	if power != nil {
		n = &node{k: kPow, args: []*node{n, power}}
	}
	return n, nil
}

func (p *parser) parseUnaryNoImplicit() (*node, error) {
	if p.isOp("-") {
		p.pos++
		x, err := p.parseUnaryNoImplicit()
		if err != nil {
			return nil, err
		}
		return &node{k: kNeg, args: []*node{x}}, nil
	}
	return p.parsePower()
}

func (p *parser) startsFunc(t token) bool {
	switch t.k {
	case tCmd:
		_, ok := functions[t.text]
		return ok
	case tIdent:
		_, ok := functions[t.text]
		return ok && len(t.text) > 1
	}
	return false
}

// parseEnv reads \begin{pmatrix} ... \end{pmatrix} and its cousins.
func (p *parser) parseEnv() (*node, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var env strings.Builder
	for !p.isOp("}") {
		t := p.peek()
		if t.k == tEOF {
			return nil, errf("unclosed \\begin")
		}
		env.WriteString(t.text)
		p.pos++
	}
	p.pos++
	name := env.String()
	switch name {
	case "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "matrix", "smallmatrix", "array":
	default:
		return nil, errf("unsupported environment %q", name)
	}
	if name == "array" && p.isOp("{") { // column spec
		for p.peek().k != tEOF && !p.isOp("}") {
			p.pos++
		}
		p.pos++
	}
	var rows [][]*node
	row := []*node{}
	isEnd := func(t token) bool {
		return t.k == tEOF || t.k == tRowSep || t.k == tOp && t.text == "&" || t.k == tCmd && t.text == "end"
	}
	for {
		if err := p.b.step(1); err != nil {
			return nil, err
		}
		t := p.peek()
		switch {
		case t.k == tEOF:
			return nil, errf("unclosed \\begin{%s}", name)
		case t.k == tOp && t.text == "&":
			p.pos++
			continue
		case t.k == tRowSep:
			p.pos++
			if len(row) > 0 {
				rows = append(rows, row)
			}
			row = []*node{}
			continue
		case t.k == tCmd && t.text == "end":
			p.pos++
			if p.isOp("{") {
				for p.peek().k != tEOF && !p.isOp("}") {
					p.pos++
				}
				p.pos++
			}
			if len(row) > 0 {
				rows = append(rows, row)
			}
			if len(rows) == 0 {
				return nil, errf("empty matrix")
			}
			cols := len(rows[0])
			var cells []*node
			for _, r := range rows {
				if len(r) != cols {
					return nil, errf("ragged matrix")
				}
				cells = append(cells, r...)
			}
			m := &node{k: kMatrix, args: cells, rows: len(rows), cols: cols}
			if name == "vmatrix" || name == "Vmatrix" {
				return &node{k: kFunc, name: "det", args: []*node{m}}, nil
			}
			return m, nil
		}
		groups, err := p.parseSeq(isEnd)
		if err != nil {
			return nil, err
		}
		cell, err := fromGroups(groups, kSet)
		if err != nil {
			return nil, err
		}
		row = append(row, cell)
	}
}

// parseBigOp reads \sum_{k=a}^{b} body and \prod likewise.
func (p *parser) parseBigOp(name string) (*node, error) {
	if err := p.expect("_"); err != nil {
		return nil, err
	}
	lower, err := p.parseSubscript()
	if err != nil {
		return nil, err
	}
	if lower == nil || lower.k != kRel || len(lower.ops) != 1 || lower.ops[0] != "=" || lower.args[0].k != kSym {
		return nil, errf("\\%s needs a lower bound k=a", name)
	}
	if err := p.expect("^"); err != nil {
		return nil, err
	}
	upper, err := p.parseExpArg()
	if err != nil || upper == nil {
		return nil, errf("\\%s needs an upper bound", name)
	}
	body, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	k := kSum
	if name == "prod" {
		k = kProd
	}
	return &node{k: k, name: lower.args[0].name, args: []*node{lower.args[1], upper, body}}, nil
}

// isAssignTarget reports whether n can be the left side of an assignment
// ("x", "f(x)", "AB", "(p,q)", "\frac{NO}{BO}"): no numbers, at least a name.
func isAssignTarget(n *node) bool {
	switch n.k {
	case kSym:
		return true
	case kText: // \text{max} = 5
		return isWords(n.name) && !strings.ContainsAny(n.name, "0123456789^/")
	case kFunc:
		if n.name == "abs" || strings.HasSuffix(n.name, "_") || len(n.name) == 1 {
			for _, a := range n.args {
				if !isAssignTarget(a) && a.k != kNum {
					return false
				}
			}
			return true
		}
		return false
	case kMul, kDiv, kTuple:
		for _, a := range n.args {
			if !isAssignTarget(a) {
				return false
			}
		}
		return len(n.args) > 0
	}
	return false
}
