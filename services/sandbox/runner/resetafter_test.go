package runner

import (
	"strings"
	"testing"
)

// A run with ResetAfter is answered, then its reset is answered on its own,
// under the run's id: Conn.AwaitReset has it, and a second AwaitReset, with
// no run asking since, says none was asked for. Outside a container the
// agent refuses to reset (it is not the container's init), which is the
// error AwaitReset must pass on: a container whose reset failed must not
// serve again.
func TestRunWithResetAfter(t *testing.T) {
	a := newTestAgent(t)
	sh := needTool(t, "sh")
	c, ctx := serveConn(t, a, nil)

	if _, asked, err := c.AwaitReset(ctx); asked || err != nil {
		t.Fatalf("before any run: asked %v, err %v", asked, err)
	}
	resp, err := c.Do(ctx, Request{Op: OpRun, Argv: []string{sh, "-c", "echo one"}, ResetAfter: true})
	if err != nil || resp.Status != StatusOK || string(resp.Stdout) != "one\n" || resp.Reset {
		t.Fatalf("run: %+v, %v", resp, err)
	}
	reset, asked, err := c.AwaitReset(ctx)
	if !asked || !reset.Reset || err == nil || !strings.Contains(err.Error(), "init") {
		t.Fatalf("reset after the run: %+v, asked %v, err %v; want the agent's refusal outside a container", reset, asked, err)
	}
	if _, asked, _ := c.AwaitReset(ctx); asked {
		t.Fatal("a second AwaitReset found a reset no run asked for")
	}
	// A run without ResetAfter asks for none, and the stream still serves.
	if resp, err := c.Do(ctx, Request{Op: OpRun, Argv: []string{sh, "-c", "echo two"}}); err != nil || string(resp.Stdout) != "two\n" {
		t.Fatalf("a later run: %+v, %v", resp, err)
	}
	if _, asked, _ := c.AwaitReset(ctx); asked {
		t.Fatal("a run without ResetAfter asked for a reset")
	}
}
