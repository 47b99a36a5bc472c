package mathsvc

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// rulesOnly is the service with no judge configured.
var rulesOnly = &Service{parallel: runtime.GOMAXPROCS(0)}

func TestVerifyItem(t *testing.T) {
	for _, tc := range []struct {
		name, item string
		want       string // the result as JSON
	}{
		{"correct", `{"id":7,"gold":"\\frac12","pred":"so \\boxed{0.5}"}`,
			`{"id":7,"correct":true,"reward":1,"gold_answer":"\\frac12","pred_answer":"0.5","decided_by":"rules"}`},
		{"wrong with reason", `{"id":"a","gold":"(1,2,3)","pred":"(1,3,2)"}`,
			`{"id":"a","correct":false,"reward":0,"gold_answer":"(1,2,3)","pred_answer":"(1,3,2)","reason":"mismatch","decided_by":"rules"}`},
		{"strict by default", `{"gold":"f(x)","pred":"f(y)"}`,
			`{"correct":false,"reward":0,"gold_answer":"f(x)","pred_answer":"f(y)","reason":"mismatch","decided_by":"rules"}`},
		{"strict off", `{"gold":"f(x)","pred":"f(y)","strict":false}`,
			`{"correct":true,"reward":1,"gold_answer":"f(x)","pred_answer":"f(y)","decided_by":"rules"}`},
		{"precision", `{"gold":"\\frac13","pred":"0.33","precision":2}`,
			`{"correct":true,"reward":1,"gold_answer":"\\frac13","pred_answer":"0.33","decided_by":"rules"}`},
		{"gold list", `{"gold":["10","ten"],"pred":"ten"}`,
			`{"correct":true,"reward":1,"gold_answer":"ten","pred_answer":"ten","decided_by":"rules"}`},
		{"missing pred", `{"id":1,"gold":"1"}`,
			`{"id":1,"correct":false,"reward":0,"gold_answer":"","pred_answer":"","error":{"code":"invalid","message":"gold and pred are both required"}}`},
		{"hedge", `{"gold":"3","pred":"\\boxed{3 \\text{ or } 5}"}`,
			`{"correct":false,"reward":0,"gold_answer":"3","pred_answer":"3 \\text{ or } 5","reason":"hedge","decided_by":"rules"}`},
		{"targets: latex only", `{"gold":"5","pred":"the result is 5","targets":["latex"]}`,
			`{"correct":false,"reward":0,"gold_answer":"5","pred_answer":"","reason":"no_answer","decided_by":"rules"}`},
		{"targets: expr", `{"gold":"5","pred":"the result is 5","targets":["expr"]}`,
			`{"correct":true,"reward":1,"gold_answer":"5","pred_answer":"5","decided_by":"rules"}`},
		{"bad target", `{"gold":"5","pred":"5","targets":["string"]}`,
			`{"correct":false,"reward":0,"gold_answer":"","pred_answer":"","error":{"code":"invalid","message":"targets: \"string\" is not one of \"latex\", \"expr\""}}`},
		{"no target", `{"gold":"5","pred":"5","targets":[]}`,
			`{"correct":false,"reward":0,"gold_answer":"","pred_answer":"","error":{"code":"invalid","message":"targets: name at least one of \"latex\", \"expr\""}}`},
		{"question asks a percentage", `{"gold":"25","pred":"\\boxed{0.25}","question":"What percent of 80 is 20?"}`,
			`{"correct":true,"reward":1,"gold_answer":"25","pred_answer":"0.25","decided_by":"rules"}`},
		{"too large", `{"gold":"1","pred":"` + strings.Repeat("9", 70000) + `"}`,
			`{"correct":false,"reward":0,"gold_answer":"","pred_answer":"","reason":"too_large","decided_by":"rules"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(rulesOnly.verifyItem(context.Background(), json.RawMessage(tc.item), &judgeBudget{}))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRewardItem(t *testing.T) {
	for _, tc := range []struct {
		name, item string
		reward     float64
		errCode    reward.ErrorCode
	}{
		{"object reference", `{"id":"x","domain":"math","response":"\\boxed{4}","reference":{"gold":"4"}}`, 1, ""},
		{"string reference", `{"domain":"math","response":"I get 5","reference":"4"}`, 0, ""},
		{"strict off", `{"domain":"math","response":"y+1","reference":{"gold":"x+1","strict":false}}`, 1, ""},
		{"question", `{"domain":"math","response":"so 0.25","reference":{"gold":"25","question":"What percentage of 80 is 20?"}}`, 1, ""},
		{"targets", `{"domain":"math","response":"the result is 5","reference":{"gold":"5","targets":["latex"]}}`, 0, ""},
		{"bad targets", `{"domain":"math","response":"5","reference":{"gold":"5","targets":"latex"}}`, 0, reward.Invalid},
		{"wrong domain", `{"domain":"code","response":"4","reference":"4"}`, 0, reward.Invalid},
		{"no gold", `{"domain":"math","response":"4","reference":{"answer":"4"}}`, 0, reward.Invalid},
		{"bad precision", `{"domain":"math","response":"4","reference":{"gold":"4","precision":99}}`, 0, reward.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res reward.Result
			switch r := rulesOnly.rewardItem(context.Background(), json.RawMessage(tc.item), &judgeBudget{}).(type) {
			case reward.Result:
				res = r
			case rewardResult:
				res = r.Result
			default:
				t.Fatalf("rewardItem returned a %T", r)
			}
			if res.Reward != tc.reward {
				t.Errorf("reward %v, want %v (%+v)", res.Reward, tc.reward, res)
			}
			if tc.errCode == "" && (res.Error != nil || len(res.Details) == 0 || res.Domain != reward.Math) {
				t.Errorf("want details and no error: %+v", res)
			}
			if tc.errCode != "" && (res.Error == nil || res.Error.Code != tc.errCode) {
				t.Errorf("want error %s: %+v", tc.errCode, res)
			}
		})
	}
}
