// Package runner is the agent that runs inside every sandbox container and the
// protocol the service speaks to it. The agent is the container's main process; the
// service talks to it over the container's attached stdin and stdout, so running a
// test costs one round trip on an open stream and no `docker exec`.
//
// Each message is a frame: a 4-byte big-endian length, then that many bytes of JSON.
// Requests carry an ID; responses echo it, so several tests of one submission can
// be in flight at once.
package runner

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion changes whenever a message changes shape or the agent judges
// differently; the image tag carries it, so an image with an older agent is rebuilt.
const ProtocolVersion = 11

// MaxFrame bounds one frame, so a corrupt length cannot make a reader allocate
// without end. It is above the largest output limit plus its base64 overhead.
const MaxFrame = 512 << 20

// Op names a request.
type Op string

const (
	OpPing  Op = "ping"  // answer at once: the agent is alive
	OpWrite Op = "write" // write Files under the work directory
	OpRead  Op = "read"  // read back the regular file Path, at most Limits.FileBytes of it (0: no limit)
	OpRun   Op = "run"   // write Files, if any, then run Argv with Stdin under Limits (one round trip for a one-run submission)
	OpReset Op = "reset" // kill every process but the agent, wipe every writable place
	// OpStdin feeds a streamed run (Request.Stream): Stdin goes to the program
	// of run Run, in order; Close then ends its stdin. It has no answer.
	OpStdin Op = "stdin"
)

// Request is one message from the service to the agent.
type Request struct {
	ID     uint64          `json:"id"`
	Op     Op              `json:"op"`
	Files  map[string]File `json:"files,omitempty"`
	Path   string          `json:"path,omitempty"`
	Argv   []string        `json:"argv,omitempty"`
	Stdin  []byte          `json:"stdin,omitempty"`
	Limits Limits          `json:"limits,omitzero"`
	// Fork, on a run of `python3 FILE`, makes the run a copy of the container's
	// Python fork server (an interpreter with the common modules loaded that has
	// run no program) instead of a fresh interpreter; on a ping with Argv
	// ["python3"], it starts that server ahead of the first run, and the answer
	// waits until it is ready (protocol 11).
	Fork bool `json:"fork,omitempty"`
	// Stream, on a run, makes its stdin and stdout streams, for a program that
	// talks with another (an interactive problem's solution and interactor):
	// the program reads what OpStdin requests bring, and its stdout comes back
	// as it is written, in Partial responses before the run's answer (whose
	// Stdout is then empty). The output limit counts what was streamed.
	Stream bool `json:"stream,omitempty"`
	// Run is the id of the streamed run an OpStdin request feeds; Close ends
	// that run's stdin.
	Run   uint64 `json:"run,omitempty"`
	Close bool   `json:"close,omitempty"`
	// ResetAfter, on a run, asks the agent to reset the container (as OpReset)
	// once it has answered the run, and to answer the reset too: a second
	// answer with the run's id and Reset set. A submission's last request
	// carries it, so the reset costs no request of its own.
	ResetAfter bool `json:"reset_after,omitempty"`
}

// File is a file to write: its contents and whether it is executable.
//
// Key, when set, names the contents (a compiled binary's hash): the agent keeps
// a file sent with a key and its data, and a later request may send the key
// with no data to have the same file written from what the agent kept. An
// agent that no longer keeps it answers NotCached, and the file is sent again
// with its data (Conn does both).
type File struct {
	Data []byte `json:"data"`
	Exec bool   `json:"exec,omitempty"`
	Key  string `json:"key,omitempty"`
}

// The agent's file cache: at most CacheBytes in all, files of at most
// CacheFileBytes each.
const (
	CacheBytes     = 48 << 20
	CacheFileBytes = 16 << 20
)

// Limits bound one run. Zero means the agent's default.
type Limits struct {
	CPUMillis   int64 `json:"cpu_ms,omitempty"` // of all the run's processes together
	WallMillis  int64 `json:"wall_ms,omitempty"`
	MemoryBytes int64 `json:"memory_bytes,omitempty"` // all the run's processes' memory together, and each one's address space unless AddressSpaceBytes says otherwise
	OutputBytes int64 `json:"output_bytes,omitempty"` // stdout; of stderr at most 64 KiB is kept
	FileBytes   int64 `json:"file_bytes,omitempty"`   // largest file it may write (RLIMIT_FSIZE)
	Processes   int64 `json:"processes,omitempty"`    // RLIMIT_NPROC
	// AddressSpaceBytes is each process's RLIMIT_AS: 0 is MemoryBytes, -1 none.
	// Runtimes that reserve far more address space than they use (the JVM, V8,
	// Go's) cannot start under a limit near their memory; their memory is still
	// bounded by MemoryBytes, metered over all the run's processes.
	AddressSpaceBytes int64 `json:"address_space_bytes,omitempty"`
}

// Status is how a run ended.
type Status string

const (
	StatusOK     Status = "ok"  // exited 0
	StatusRE     Status = "re"  // exited non-zero or died of a signal
	StatusTLE    Status = "tle" // used more CPU or wall time than allowed
	StatusMLE    Status = "mle" // ran out of its memory allowance
	StatusOLE    Status = "ole" // printed more than allowed
	StatusFailed Status = "se"  // the agent could not run it
)

// Response answers one Request.
type Response struct {
	ID         uint64 `json:"id"`
	Error      string `json:"error,omitempty"` // the request itself failed (bad path, no such op)
	Status     Status `json:"status,omitempty"`
	ExitCode   int    `json:"exit_code"`
	Signal     int    `json:"signal,omitempty"`
	Stdout     []byte `json:"stdout,omitempty"`
	Stderr     []byte `json:"stderr,omitempty"`
	Data       []byte `json:"data,omitempty"`   // OpRead
	CPUMicros  int64  `json:"cpu_us,omitempty"` // every process the run started, from the container's cgroup
	WallMicros int64  `json:"wall_us,omitempty"`
	MemoryKB   int64  `json:"memory_kb,omitempty"` // peak memory: the program's own, or all its processes' together
	// Retire, on a reset, asks for the container to be replaced rather than
	// reused: the agent's own memory peaked high enough to skew later readings.
	Retire bool `json:"retire,omitempty"`
	// Cgroup, on a ping, is the container's cgroup as the agent found it.
	Cgroup *Cgroup `json:"cgroup,omitempty"`
	// Partial marks a piece of a streamed run's stdout (Stdout); the run's
	// answer follows its last piece.
	Partial bool `json:"partial,omitempty"`
	// Reset marks the answer to a run's ResetAfter: Error, if any, says why
	// the reset failed, and Retire is as on an OpReset's answer.
	Reset bool `json:"reset,omitempty"`
	// NotCached: the request named a file by Key alone that the agent does not
	// keep; nothing ran. It is sent again with the file's data.
	NotCached bool `json:"not_cached,omitempty"`
}

// Cgroup is the container's own cgroup, the meter of every test's CPU time and
// memory. The agent reports its limits on a ping, so the service can check that
// the container got what it asked for: a daemon that cannot apply limits (rootless
// Docker on cgroup v1) would otherwise leave them unbounded without a word.
type Cgroup struct {
	Version     int     `json:"version"`      // 1 or 2; 0: none found, Error says why
	Memory      bool    `json:"memory"`       // the memory controller is readable: memory is metered
	MemoryBytes int64   `json:"memory_bytes"` // memory limit; -1 none
	CPUs        float64 `json:"cpus"`         // CPU quota in cores; 0 none
	Pids        int64   `json:"pids"`         // pids limit; -1 none
	Error       string  `json:"error,omitempty"`
}

// WriteFrame writes v as one frame.
func WriteFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if len(body) > MaxFrame {
		return fmt.Errorf("encode frame: %d bytes is over the %d-byte limit", len(body), MaxFrame)
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ErrFrameTooLarge reports a frame length over MaxFrame: the stream is corrupt.
var ErrFrameTooLarge = errors.New("frame over the size limit")

// ReadFrame reads one frame into v. It returns io.EOF only at a clean end of stream.
func ReadFrame(r io.Reader, v any) error {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read frame header: %w", err)
		}
		return err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > MaxFrame {
		return fmt.Errorf("read frame: length %d: %w", n, ErrFrameTooLarge)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return fmt.Errorf("read frame body: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}
