# The Python fork server: an interpreter started once, with the modules contest
# programs import already loaded, that has run no user code. Each run is a copy of
# it (clone with CLONE_PARENT, so the agent is the run's parent and waits for it
# as for any program), which sets its limits, takes the run's stdin, stdout and
# stderr, and runs the program as `python3 PROGRAM` would: a fresh __main__,
# sys.argv, sys.path[0], PyRun_SimpleFile's tracebacks, exit codes and shutdown.
#
# The agent starts it as `python3 -c SOURCE` with the control socket on fd 3 and
# speaks one line of JSON each way per run: {"argv", "cwd", "limits"} with the
# run's three pipes as SCM_RIGHTS, answered {"pid"} or {"error"}. The first line
# the server sends is {"ready": true} once its imports are done.
import sys

del sys.path[0]  # "" for -c: the working directory, which programs can write
import ctypes, io, json, os, socket, types, builtins, gc, resource

# What contest programs import, and LiveCodeBench's prelude: loaded once here.
for _name in (
    "string re datetime collections heapq bisect copy math random statistics itertools "
    "functools operator json typing fractions decimal array threading queue dataclasses "
    "enum abc numbers struct time traceback linecache tokenize textwrap"
).split():
    try:
        __import__(_name)
    except ImportError:
        pass

_api = ctypes.pythonapi  # PyDLL: calls hold the GIL, as os.fork's own calls do
_api.syscall.restype = ctypes.c_long
_api.syscall.argtypes = [ctypes.c_long] * 6
_api.PyRun_SimpleFileExFlags.restype = ctypes.c_int
_api.PyRun_SimpleFileExFlags.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
_api.fdopen.restype = ctypes.c_void_p
_api.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
_api.prctl.restype = ctypes.c_int
_api.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
_CLONE_PARENT, _SIGCHLD, _PR_SET_DUMPABLE = 0x8000, 17, 4
_LIMITS = {
    "cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE, "core": resource.RLIMIT_CORE,
    "nproc": resource.RLIMIT_NPROC, "stack": resource.RLIMIT_STACK, "as": resource.RLIMIT_AS,
}

# A program run by the agent can signal this process (same uid) but must not
# read or write its memory: not dumpable, no ptrace and no /proc/PID/mem.
_api.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
_ctl = socket.socket(fileno=3)
gc.collect()
gc.freeze()  # the collector leaves the server's objects alone: fewer pages copied per run
_ctl.sendall(b'{"ready": true}\n')
_buf = b""
_run = None
while _run is None:
    _data, _fds, _flags, _addr = socket.recv_fds(_ctl, 1 << 16, 3)
    if not _data:
        os._exit(0)  # the agent closed the socket
    _buf += _data
    if len(_fds) != 3 or not _buf.endswith(b"\n"):
        for _fd in _fds:
            os.close(_fd)
        _ctl.sendall(b'{"error": "a request carries one line and three descriptors"}\n')
        _buf = b""
        continue
    _req, _buf = json.loads(_buf), b""
    _api.PyOS_BeforeFork()
    _pid = _api.syscall(_SYS_CLONE, _CLONE_PARENT | _SIGCHLD, 0, 0, 0, 0)
    if _pid == 0:
        _api.PyOS_AfterFork_Child()  # the runtime's state and os.register_at_fork hooks (random reseeds)
        _run = (_req, _fds)
        break
    _api.PyOS_AfterFork_Parent()
    for _fd in _fds:
        os.close(_fd)
    if _pid < 0:
        _ctl.sendall(json.dumps({"error": "clone: " + os.strerror(ctypes.get_errno() or 11)}).encode() + b"\n")
    else:
        _ctl.sendall(json.dumps({"pid": _pid}).encode() + b"\n")

# The run. Nothing here may fail quietly: any error ends the run with exit code
# 125 and a line on stderr, which the agent reports as a failure of the server.
try:
    _req, _fds = _run
    _ctl.close()
    for _i, _fd in enumerate(_fds):
        os.dup2(_fd, _i)
        os.close(_fd)
    os.closerange(3, 1 << 16)
    os.setpgid(0, 0)
    for _k, (_soft, _hard) in _req["limits"].items():
        resource.setrlimit(_LIMITS[_k], (_soft, _hard))
    # As after execve: the program's own /proc files are its own (a process
    # that is not dumpable finds them root's, oom_score_adj among them).
    _api.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    with open("/proc/self/oom_score_adj", "w") as _f:
        _f.write("1000")
    os.chdir(_req["cwd"])
    _argv = _req["argv"]
    _path = os.path.abspath(_argv[1])
    sys.argv = _argv[1:]
    sys.orig_argv = list(_argv)
    sys.path.insert(0, os.path.dirname(_path))
    _main = types.ModuleType("__main__")
    _main.__annotations__ = {}
    _main.__builtins__ = builtins
    sys.modules["__main__"] = _main
    _fp = _api.fdopen(os.open(_path, os.O_RDONLY | os.O_CLOEXEC), b"rb")
    if not _fp:
        raise OSError("fdopen " + _path)
    gc.unfreeze()
    _depth_fix = None
    if sys.version_info[:2] == (3, 11):
        # CPython 3.11 counts the frames below the program against the recursion
        # limit: this module's frame and the call into PyRun_SimpleFile, which a
        # fresh `python3 PROGRAM` does not have. PyThreadState's
        # recursion_remaining and recursion_limit are its ints at 32 and 36.
        _api.PyThreadState_Get.restype = ctypes.c_void_p
        _ts = _api.PyThreadState_Get()
        _remaining = ctypes.c_int.from_address(_ts + 32)
        if ctypes.c_int.from_address(_ts + 36).value == sys.getrecursionlimit() and _remaining.value == sys.getrecursionlimit() - 1:
            _depth_fix = _remaining
        del _ts, _remaining
    del _k, _soft, _hard, _i, _fd, _fds, _data, _flags, _addr, _buf, _run, _req, _pid
except BaseException as _e:  # noqa: BLE001: the run must end, whatever went wrong
    try:
        os.write(2, ("rewardmesh fork server: %r\n" % (_e,)).encode())
    finally:
        os._exit(125)
# As `python3 PROGRAM`: an uncaught exception is printed and exits 1; SystemExit
# exits from inside with its code, after the interpreter's own shutdown.
if _depth_fix is not None:
    _depth_fix.value = sys.getrecursionlimit() + 1  # the program starts at depth 0, as in a fresh interpreter
del _depth_fix
if _api.PyRun_SimpleFileExFlags(_fp, _path.encode(), 1, None) != 0:
    if getattr(sys, "last_type", None) is KeyboardInterrupt:
        # As the interpreter does for an uncaught KeyboardInterrupt: end by SIGINT.
        import atexit, signal
        atexit._run_exitfuncs()
        for _f in (sys.stdout, sys.stderr):
            try:
                _f.flush()
            except Exception:  # noqa: BLE001
                pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(1)
