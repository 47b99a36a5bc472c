//go:build linux

package runner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// cgroup is the container's own cgroup, the meter of a test. It holds every
// process a test starts, waited for or not, orphaned or not, exited or still
// running, and the kernel charges their CPU and memory to it whatever they do
// with their parents, process groups or sessions. The agent runs one test at a
// time, so what the cgroup gains during a test, less the agent's own share, is
// the test's.
type cgroup struct {
	version int
	cpuFile string // v1 cpuacct.usage (ns), v2 cpu.stat (usage_usec)
	memDir  string // "" when the memory controller is not readable
	limits  Cgroup
}

// cgroupRoot is where Docker mounts a container's cgroups.
const cgroupRoot = "/sys/fs/cgroup"

// openCgroup finds the cgroup that holds pid, under root. Docker mounts a
// container's own cgroup there (v1 hierarchies one per controller, or the v2
// one); where the whole hierarchy is mounted instead (no cgroup namespace), the
// path in /proc/self/cgroup (self) leads to it. A directory counts only if its
// cgroup.procs lists pid, so a host's or a parent's cgroup is never taken for
// the container's.
func openCgroup(root string, self []byte, pid int) (*cgroup, error) {
	var v1 [][2]string // controllers ("cpu,cpuacct"), path
	v2Path, hasV2 := "", false
	for line := range strings.SplitSeq(string(self), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			v2Path, hasV2 = parts[2], true
			continue
		}
		v1 = append(v1, [2]string{parts[1], parts[2]})
	}
	pidLine := []byte(strconv.Itoa(pid))
	holds := func(dir, file string) bool {
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			return false
		}
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return false
		}
		for line := range bytes.SplitSeq(procs, []byte("\n")) {
			if bytes.Equal(line, pidLine) {
				return true
			}
		}
		return false
	}
	find := func(names []string, path, file string) string {
		for _, name := range names {
			for _, p := range []string{path, "/"} {
				if dir := filepath.Join(root, name, p); holds(dir, file) {
					return dir
				}
			}
		}
		return ""
	}
	v1Dir := func(controller, file string) string {
		for _, l := range v1 {
			for c := range strings.SplitSeq(l[0], ",") {
				if c == controller {
					return find([]string{l[0], controller}, l[1], file)
				}
			}
		}
		return ""
	}

	if cpu := v1Dir("cpuacct", "cpuacct.usage"); cpu != "" {
		cg := &cgroup{version: 1, cpuFile: filepath.Join(cpu, "cpuacct.usage"), memDir: v1Dir("memory", "memory.stat")}
		cg.limits = Cgroup{Version: 1, Memory: cg.memDir != "", MemoryBytes: -1, Pids: -1}
		if cg.memDir != "" {
			cg.limits.MemoryBytes = readLimit(filepath.Join(cg.memDir, "memory.limit_in_bytes"))
		}
		if dir := v1Dir("cpu", "cpu.cfs_quota_us"); dir != "" {
			quota, period := readLimit(filepath.Join(dir, "cpu.cfs_quota_us")), readLimit(filepath.Join(dir, "cpu.cfs_period_us"))
			if quota > 0 && period > 0 {
				cg.limits.CPUs = float64(quota) / float64(period)
			}
		}
		if dir := v1Dir("pids", "pids.max"); dir != "" {
			cg.limits.Pids = readLimit(filepath.Join(dir, "pids.max"))
		}
		return cg, nil
	}
	if hasV2 {
		if dir := find([]string{""}, v2Path, "cpu.stat"); dir != "" {
			cg := &cgroup{version: 2, cpuFile: filepath.Join(dir, "cpu.stat")}
			if _, err := os.Stat(filepath.Join(dir, "memory.stat")); err == nil {
				cg.memDir = dir
			}
			cg.limits = Cgroup{Version: 2, Memory: cg.memDir != "", MemoryBytes: readLimit(filepath.Join(dir, "memory.max")), Pids: readLimit(filepath.Join(dir, "pids.max"))}
			if data, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil {
				// "QUOTA PERIOD", QUOTA "max" when unbounded.
				f := strings.Fields(string(data))
				if len(f) == 2 {
					quota, err1 := strconv.ParseInt(f[0], 10, 64)
					period, err2 := strconv.ParseInt(f[1], 10, 64)
					if err1 == nil && err2 == nil && quota > 0 && period > 0 {
						cg.limits.CPUs = float64(quota) / float64(period)
					}
				}
			}
			return cg, nil
		}
	}
	return nil, fmt.Errorf("no cgroup under %s lists pid %d (looked for cgroup v1 cpuacct and v2 cpu.stat from %q)", root, pid, strings.TrimSpace(string(self)))
}

// readLimit reads a limit file: a number, or -1 for "max" (v2), for v1's
// "unlimited" (a number near 2^63) and for a file that cannot be read.
func readLimit(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || n < 0 || n > 1<<62 {
		return -1
	}
	return n
}

// cpuNanos is the CPU time every process of the cgroup has used, the agent's
// included.
func (c *cgroup) cpuNanos() (int64, error) {
	var buf [4096]byte
	data, err := readSmall(c.cpuFile, buf[:])
	if err != nil {
		return 0, err
	}
	if c.version == 1 {
		return strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	}
	usec, ok := statField(data, "usage_usec")
	if !ok {
		return 0, fmt.Errorf("%s has no usage_usec", c.cpuFile)
	}
	return usec * 1000, nil
}

// memoryBytes is the memory the cgroup's processes hold, less the agent's own:
// anonymous memory and shared memory (tmpfs files, System V and POSIX shared
// memory, memfd pages, none of which RLIMIT_AS sees). The page cache of files
// read is left out: it is the kernel's to drop.
func (c *cgroup) memoryBytes() (int64, error) {
	if c.memDir == "" {
		return 0, errors.New("no memory controller")
	}
	var buf [8192]byte
	data, err := readSmall(filepath.Join(c.memDir, "memory.stat"), buf[:])
	if err != nil {
		return 0, err
	}
	anonKey := "anon"
	if c.version == 1 {
		anonKey = "rss"
	}
	anon, ok1 := statField(data, anonKey)
	shmem, ok2 := statField(data, "shmem")
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("memory.stat has no %s or shmem", anonKey)
	}
	return anon + shmem - selfAnonBytes(), nil
}

// oomKills is how many processes the cgroup's memory limit has killed.
func (c *cgroup) oomKills() int64 {
	if c.memDir == "" {
		return 0
	}
	file := "memory.events"
	if c.version == 1 {
		file = "memory.oom_control"
	}
	var buf [1024]byte
	data, err := readSmall(filepath.Join(c.memDir, file), buf[:])
	if err != nil {
		return 0
	}
	n, _ := statField(data, "oom_kill")
	return n
}

// statField reads "key value" out of a flat-keyed cgroup file.
func statField(data []byte, key string) (int64, bool) {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(" "))
		if ok && string(k) == key {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// readSmall reads a small file into buf without allocating: the watchdog reads
// cgroup files every few milliseconds.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		k, err := syscall.Read(fd, buf[n:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if k == 0 {
			break
		}
		n += k
	}
	return buf[:n], nil
}

// selfCPUNanos is the CPU time of the agent, all its threads. Reading it also
// brings the cgroup's charge for the agent's running threads up to date, so it
// is read before the cgroup.
func selfCPUNanos() int64 {
	const clockProcessCPUTime = 2
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return ts.Nano()
}

// selfAnonBytes is the agent's resident anonymous memory.
func selfAnonBytes() int64 {
	resident, shared := selfStatm()
	return resident - shared
}

// selfStatm reads the agent's resident memory and the part of it that is shared
// (file-backed), in bytes; zeros when unreadable.
func selfStatm() (resident, shared int64) {
	_, resident, shared = statm("self")
	return resident, shared
}

// statm reads /proc/PID/statm ("self" for the agent): the address-space size,
// the resident set and its shared part, in bytes; zeros when unreadable.
func statm(pid string) (size, resident, shared int64) {
	var buf [256]byte
	data, err := readSmall("/proc/"+pid+"/statm", buf[:])
	if err != nil {
		return 0, 0, 0
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return 0, 0, 0
	}
	page := int64(os.Getpagesize())
	var v [3]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i], 10, 64)
	}
	return v[0] * page, v[1] * page, v[2] * page
}
