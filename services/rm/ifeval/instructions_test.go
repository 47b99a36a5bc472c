package ifeval

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestInstructionsListsAll25(t *testing.T) {
	ids := Instructions()
	if len(ids) != 25 {
		t.Fatalf("Instructions() has %d ids, want 25: %v", len(ids), ids)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("Instructions() is not sorted: %v", ids)
	}
	for _, id := range ids {
		if _, ok := registry[id]; !ok {
			t.Errorf("%s listed but not registered", id)
		}
	}
}

// checkOne runs Check on a single instruction and returns its strict and loose verdicts.
func checkOne(t *testing.T, id string, kwargs map[string]any, response string) (bool, bool) {
	t.Helper()
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	out, err := Check(Input{Prompt: "p", Response: response, InstructionIDs: []string{id}, Kwargs: []map[string]any{kwargs}})
	if err != nil {
		t.Fatalf("Check(%s): %v", id, err)
	}
	return out.Strict.FollowList[0], out.Loose.FollowList[0]
}

// kw decodes a JSON object the way the service receives kwargs (numbers as float64).
func kw(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("kwargs %s: %v", s, err)
	}
	return m
}

func TestCheckers(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		kwargs   string
		response string
		strict   bool
		loose    bool
	}{
		{"existence all present", "keywords:existence", `{"keywords":["apple","Pie"]}`, "I baked an APPLE pie.", true, true},
		{"existence one missing", "keywords:existence", `{"keywords":["apple","cherry"]}`, "An apple pie.", false, false},
		{"existence is a regex", "keywords:existence", `{"keywords":["colou?r"]}`, "What a color!", true, true},
		{"frequency at least", "keywords:frequency", `{"keyword":"cat","frequency":3,"relation":"at least"}`, "cat Cat CAT", true, true},
		{"frequency counts substrings", "keywords:frequency", `{"keyword":"cat","frequency":2,"relation":"less than"}`, "cats concatenate", false, false},
		{"frequency less than", "keywords:frequency", `{"keyword":"dog","frequency":2,"relation":"less than"}`, "one dog", true, true},
		{"forbidden absent", "keywords:forbidden_words", `{"forbidden_words":["red"]}`, "I like reddish tones.", true, true},
		{"forbidden present", "keywords:forbidden_words", `{"forbidden_words":["red","blue"]}`, "The Blue sky.", false, false},
		{"forbidden unicode boundary", "keywords:forbidden_words", `{"forbidden_words":["caf"]}`, "un café", true, true},
		{"forbidden loose drops first line", "keywords:forbidden_words", `{"forbidden_words":["sure"]}`, "Sure!\nHere it is.", false, true},
		{"letter at least", "keywords:letter_frequency", `{"letter":"z","let_frequency":2,"let_relation":"at least"}`, "Zig zag", true, true},
		{"letter less than", "keywords:letter_frequency", `{"letter":"A","let_frequency":2,"let_relation":"less than"}`, "banana", false, false},
		{"letter literal symbol", "keywords:letter_frequency", `{"letter":"#","let_frequency":2,"let_relation":"at least"}`, "#one #two", true, true},
		{"language english", "language:response_language", `{"language":"en"}`, "This is plainly written in the English language, nothing else.", true, true},
		{"language wrong", "language:response_language", `{"language":"fr"}`, "This is plainly written in the English language, nothing else.", false, false},
		{"language undetectable counts as followed", "language:response_language", `{"language":"de"}`, "12345 67890", true, true},
		{"sentences less than", "length_constraints:number_sentences", `{"num_sentences":3,"relation":"less than"}`, "Dr. Smith arrived. He sat down.", true, true},
		{"sentences at least", "length_constraints:number_sentences", `{"num_sentences":3,"relation":"at least"}`, "Dr. Smith arrived. He sat down.", false, false},
		{"paragraphs exact", "length_constraints:number_paragraphs", `{"num_paragraphs":2}`, "One.\n***\nTwo.", true, true},
		{"paragraphs empty middle", "length_constraints:number_paragraphs", `{"num_paragraphs":2}`, "One.\n***\n***\nTwo.", false, false},
		{"words unicode", "length_constraints:number_words", `{"num_words":3,"relation":"at least"}`, "naïve café-au-lait", true, true},
		{"words too few", "length_constraints:number_words", `{"num_words":5,"relation":"at least"}`, "two words", false, false},
		{"nth first word", "length_constraints:nth_paragraph_first_word", `{"num_paragraphs":2,"nth_paragraph":2,"first_word":"Then"}`, "First part.\n\n\"Then, more.", true, true},
		{"nth wrong word", "length_constraints:nth_paragraph_first_word", `{"num_paragraphs":2,"nth_paragraph":2,"first_word":"then"}`, "First part.\n\nLater more.", false, false},
		{"placeholders", "detectable_content:number_placeholders", `{"num_placeholders":2}`, "Dear [name], at [address].", true, true},
		{"placeholders too few", "detectable_content:number_placeholders", `{"num_placeholders":2}`, "Dear [name].", false, false},
		{"postscript P.S.", "detectable_content:postscript", `{"postscript_marker":"P.S."}`, "Hi.\n\nP.S. bye", true, true},
		{"postscript P.P.S lowercase", "detectable_content:postscript", `{"postscript_marker":"P.P.S"}`, "Hi.\np. p. s. later", true, true},
		{"postscript missing", "detectable_content:postscript", `{"postscript_marker":"P.S."}`, "Hi, no postscript.", false, false},
		{"bullets exact", "detectable_format:number_bullet_lists", `{"num_bullets":2}`, "* a\n- b", true, true},
		{"bullets bold line is not a bullet", "detectable_format:number_bullet_lists", `{"num_bullets":2}`, "**a**\n* b\n* c\n* d", false, true},
		{"constrained", "detectable_format:constrained_response", `{}`, "  My answer is maybe. ", true, true},
		{"constrained missing", "detectable_format:constrained_response", `{}`, "Maybe.", false, false},
		{"highlights", "detectable_format:number_highlighted_sections", `{"num_highlights":2}`, "*one* and **two**", true, true},
		{"highlights blank", "detectable_format:number_highlighted_sections", `{"num_highlights":1}`, "* * and ** **", false, false},
		{"sections", "detectable_format:multiple_sections", `{"section_spliter":"Section","num_sections":2}`, "Section 1\nA\nSection 2\nB", true, true},
		{"sections too few", "detectable_format:multiple_sections", `{"section_spliter":"SECTION","num_sections":3}`, "SECTION 1\nA\nSECTION 2", false, false},
		{"json fenced", "detectable_format:json_format", `{}`, "```json\n{\"a\": [1, 2]}\n```", true, true},
		{"json python NaN", "detectable_format:json_format", `{}`, `{"a": NaN, "b": -Infinity}`, true, true},
		{"json invalid", "detectable_format:json_format", `{}`, "{'a': 1}", false, false},
		{"title", "detectable_format:title", `{}`, "<<My Poem>>\ntext", true, true},
		{"title blank", "detectable_format:title", `{}`, "<<  >> text", false, false},
		{"two responses", "combination:two_responses", `{}`, "First.\n******\nSecond.", true, true},
		{"two responses identical", "combination:two_responses", `{}`, "Same.\n******\nSame.", false, false},
		{"repeat prompt", "combination:repeat_prompt", `{"prompt_to_repeat":"Write a poem."}`, "write a POEM. Roses are red.", true, true},
		{"repeat prompt missing", "combination:repeat_prompt", `{"prompt_to_repeat":"Write a poem."}`, "Roses are red.", false, false},
		{"end phrase quoted", "startend:end_checker", `{"end_phrase":"Any other questions?"}`, "\"Done. Any other questions?\"", true, true},
		{"end phrase trailing text", "startend:end_checker", `{"end_phrase":"Bye."}`, "Bye. Really", false, false},
		{"quotation", "startend:quotation", `{}`, "  \"wrapped\"  ", true, true},
		{"quotation single char", "startend:quotation", `{}`, "\"", false, false},
		{"capital words", "change_case:capital_word_frequency", `{"capital_frequency":2,"capital_relation":"at least"}`, "DON'T panic", true, true},
		{"capital words too few", "change_case:capital_word_frequency", `{"capital_frequency":3,"capital_relation":"at least"}`, "NASA's rocket", false, false},
		{"english capital", "change_case:english_capital", `{}`, "THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER TODAY.", true, true},
		{"english capital lowercase letter", "change_case:english_capital", `{}`, "THIS IS AN ENGLISH SENTENCe.", false, false},
		{"english lowercase", "change_case:english_lowercase", `{}`, "this is an english sentence about the weather today.", true, true},
		{"english lowercase in spanish", "change_case:english_lowercase", `{}`, "esta es una frase en español sobre el tiempo de hoy y mañana.", false, false},
		{"no comma", "punctuation:no_comma", `{}`, "No commas here.", true, true},
		{"comma", "punctuation:no_comma", `{}`, "Yes, a comma.", false, false},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.id] = true
		t.Run(tc.name, func(t *testing.T) {
			strict, loose := checkOne(t, tc.id, kw(t, tc.kwargs), tc.response)
			if strict != tc.strict || loose != tc.loose {
				t.Errorf("%s on %q: strict %v loose %v, want strict %v loose %v", tc.id, tc.response, strict, loose, tc.strict, tc.loose)
			}
		})
	}
	for _, id := range Instructions() {
		if !covered[id] {
			t.Errorf("no unit test for %s", id)
		}
	}
}

func TestLooseVariants(t *testing.T) {
	got := looseVariants("Sure:\n*Answer* here\nThanks")
	want := []string{
		"Sure:\n*Answer* here\nThanks",
		"Sure:\nAnswer here\nThanks",
		"*Answer* here\nThanks",
		"Sure:\n*Answer* here",
		"*Answer* here",
		"Answer here\nThanks",
		"Sure:\nAnswer here",
		"Answer here",
	}
	if !slices.Equal(got, want) {
		t.Errorf("looseVariants = %q, want %q", got, want)
	}
	// A blank response follows nothing, even an instruction that an empty
	// string would satisfy.
	strict, loose := checkOne(t, "punctuation:no_comma", nil, "  \n ")
	if strict || loose {
		t.Errorf("blank response: strict %v loose %v, want false false", strict, loose)
	}
}

func TestCheckFollowAll(t *testing.T) {
	out, err := Check(Input{
		Response:       "hello, world",
		InstructionIDs: []string{"punctuation:no_comma", "change_case:english_lowercase"},
		Kwargs:         []map[string]any{{}, {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Strict.FollowAll || !slices.Equal(out.Strict.FollowList, []bool{false, true}) {
		t.Errorf("strict = %+v, want follow_all false, [false true]", out.Strict)
	}
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name   string
		ids    []string
		kwargs []map[string]any
		want   string
	}{
		{"unknown id", []string{"keywords:nope"}, []map[string]any{{}}, "unknown instruction id"},
		{"length mismatch", []string{"punctuation:no_comma"}, nil, "1 instruction ids but 0 kwargs"},
		{"unexpected kwarg", []string{"punctuation:no_comma"}, []map[string]any{{"x": 1.0}}, "takes no kwargs"},
		{"unknown kwarg beside known", []string{"detectable_format:title"}, []map[string]any{{"num_words": 3.0}}, "takes no kwargs"},
		{"wrong type", []string{"length_constraints:number_words"}, []map[string]any{{"num_words": "10", "relation": "at least"}}, "must be a number"},
		{"missing count", []string{"length_constraints:number_words"}, []map[string]any{{"relation": "at least"}}, "num_words is required"},
		{"negative count", []string{"detectable_content:number_placeholders"}, []map[string]any{{"num_placeholders": -1.0}}, "must be >= 0"},
		{"bad relation", []string{"length_constraints:number_sentences"}, []map[string]any{{"num_sentences": 2.0, "relation": "at most"}}, `"less than" or "at least"`},
		{"bad language", []string{"language:response_language"}, []map[string]any{{"language": "xx"}}, "not one of IFEval's 30 codes"},
		{"empty keywords", []string{"keywords:existence"}, []map[string]any{{"keywords": []any{}}}, "keywords is required"},
		{"keywords not strings", []string{"keywords:existence"}, []map[string]any{{"keywords": []any{1.0}}}, "must be a string"},
		{"invalid regex keyword", []string{"keywords:existence"}, []map[string]any{{"keywords": []any{"C++"}}}, "keywords[0]"},
		{"lookahead keyword", []string{"keywords:frequency"}, []map[string]any{{"keyword": "a(?=b)", "frequency": 1.0, "relation": "at least"}}, "not supported"},
		{"multi-char letter", []string{"keywords:letter_frequency"}, []map[string]any{{"letter": "ab", "let_frequency": 1.0, "let_relation": "at least"}}, "one character"},
		{"nth beyond count", []string{"length_constraints:nth_paragraph_first_word"}, []map[string]any{{"num_paragraphs": 2.0, "nth_paragraph": 3.0, "first_word": "a"}}, "nth_paragraph"},
		{"empty prompt_to_repeat", []string{"combination:repeat_prompt"}, []map[string]any{{"prompt_to_repeat": ""}}, "prompt_to_repeat is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(Input{Response: "text", InstructionIDs: tc.ids, Kwargs: tc.kwargs})
			if err == nil {
				t.Fatalf("Check succeeded, want error containing %q", tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// Harnesses reading the Hugging Face copy of IFEval get every kwarg key, most
// of them null; null must read as absent.
func TestNullKwargsAreAbsent(t *testing.T) {
	k := map[string]any{"num_words": 2.0, "relation": "at least", "keywords": nil, "language": nil, "letter": nil}
	strict, _ := checkOne(t, "length_constraints:number_words", k, "two words")
	if !strict {
		t.Error("number_words with null extra kwargs: want followed")
	}
}

func TestKwargsAcceptJSONNumber(t *testing.T) {
	strict, _ := checkOne(t, "length_constraints:number_words", map[string]any{"num_words": json.Number("2"), "relation": "at least"}, "two words")
	if !strict {
		t.Error("json.Number num_words: want followed")
	}
}

func TestPreload(t *testing.T) {
	if err := Preload(); err != nil {
		t.Fatalf("Preload: %v", err)
	}
}
