# The Python fork server: an interpreter started once, with the modules contest
# programs import already loaded, that has run no user code. Each run is a copy of
# it (clone with CLONE_PARENT, so the agent is the run's parent and waits for it
# as for any program), which sets its limits, takes the run's stdin, stdout and
# stderr, and runs the program as `python3 PROGRAM` would: a fresh __main__,
# sys.argv, sys.path[0], the same tracebacks, exit codes and end (without the
# teardown of the server's modules, which costs more than most programs).
#
# The agent starts it as `python3 -c SOURCE` with the control socket on fd 3 and
# speaks one line of JSON each way per run: {"argv", "cwd", "limits"} with the
# run's three pipes as SCM_RIGHTS, answered {"pid"} or {"error"}. The first line
# the server sends is {"ready": true} once its imports are done.
import sys

del sys.path[0]  # "" for -c: the working directory, which programs can write
import atexit, builtins, ctypes, gc, importlib.machinery, io, json, os, resource, signal, socket, threading, traceback, types

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
gc.freeze()  # the collector leaves the server's objects alone, in the server and its copies: fewer pages copied per run
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
    with open(_path, "rb") as _f:
        _source = _f.read()
    # __main__ as `python3 FILE` makes it (pymain_run_file, set_main_loader).
    _main = types.ModuleType("__main__")
    _main.__annotations__ = {}
    _main.__builtins__ = builtins
    _main.__file__ = _path
    _main.__cached__ = None
    _main.__loader__ = importlib.machinery.SourceFileLoader("__main__", _path)
    sys.modules["__main__"] = _main
    _preloaded = set(sys.modules)
    _depth_fix = None
    if sys.version_info[:2] == (3, 11):
        # CPython 3.11 counts against the recursion limit the frame below the
        # program's, this module's, which a fresh `python3 PROGRAM` does not
        # have (exec's call counts none). PyThreadState's recursion_remaining
        # and recursion_limit are its ints at 32 and 36.
        _api.PyThreadState_Get.restype = ctypes.c_void_p
        _ts = _api.PyThreadState_Get()
        _remaining = ctypes.c_int.from_address(_ts + 32)
        if ctypes.c_int.from_address(_ts + 36).value == sys.getrecursionlimit() and _remaining.value == sys.getrecursionlimit() - 1:
            _depth_fix = _remaining
        del _ts, _remaining
    del _k, _soft, _hard, _i, _fd, _fds, _data, _flags, _addr, _buf, _run, _req, _pid, _f
except BaseException as _e:  # noqa: BLE001: the run must end, whatever went wrong
    try:
        os.write(2, ("rewardmesh fork server: %r\n" % (_e,)).encode())
    finally:
        os._exit(125)


def _flush_std():
    """flush_std_files of Py_FinalizeEx: False where stdout or stderr failed."""
    ok = True
    for _f in (sys.stdout, sys.stderr):
        if _f is None or getattr(_f, "closed", False):
            continue
        try:
            _f.flush()
        except BaseException as _e:  # noqa: BLE001
            ok = False
            if _f is sys.stdout:
                try:
                    sys.stderr.write("Exception ignored in: %r\n%s: %s\n" % (_f, type(_e).__name__, _e))
                except BaseException:  # noqa: BLE001
                    pass
    return ok


def _exit(code, signum=0):
    """The end of `python3 FILE` without the interpreter's teardown of the
    server's modules: that teardown writes to every page the copy shares with the
    server, and costs more than the program. What a program can see of it is
    kept, in CPython's order: its non-daemon threads joined, its atexit
    functions, the standard streams flushed (120 when stdout cannot be), then the
    objects of __main__ and of the modules it imported released, so that their
    __del__ run and files it left open are flushed, and the streams flushed
    again. The server's own modules are left as they are: the copy ends with
    os._exit."""
    try:
        threading._shutdown()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    atexit._run_exitfuncs()
    ok = _flush_std()
    # finalize_modules: the standard streams restored, then the modules emptied,
    # the program's own first (its __main__ last, as the newest module).
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
    for _k in ("last_type", "last_value", "last_traceback"):
        setattr(sys, _k, None)
    # __main__ goes first, its names in their order (the module is freed with
    # its dictionary); then the modules the program imported, newest first,
    # their _names before the others (_PyModule_ClearDict).
    _d = _main.__dict__
    for _k in [k for k in _d if k != "__builtins__"]:
        _d[_k] = None
    for _n in reversed([n for n in list(sys.modules) if n not in _preloaded]):
        _d = getattr(sys.modules.get(_n), "__dict__", None)
        if type(_d) is not dict:
            continue
        for _k in [k for k in _d if k.startswith("_") and not k.startswith("__")]:
            _d[_k] = None
        for _k in [k for k in _d if k != "__builtins__"]:
            _d[_k] = None
    _d = None
    gc.collect()
    ok = _flush_std() and ok
    if signum:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(code if ok else 120)


def _exit_code(e):
    """_Py_HandleSystemExit: the exit code SystemExit e asks for, its message
    printed where it is not a number."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        # (int)PyLong_AsLong(code), of which the exit status keeps 8 bits; past
        # a long it is -1.
        return code & 0xFF if code.bit_length() < 64 else 0xFF
    try:
        _e = sys.stderr if sys.stderr is not None else sys.__stderr__
        _e.write(str(code) + "\n")
    except BaseException:  # noqa: BLE001
        pass
    return 1


# As `python3 FILE`: an uncaught exception is printed by sys.excepthook and
# exits 1, KeyboardInterrupt ends by SIGINT, SystemExit exits with its code.
try:
    if _depth_fix is not None:
        _depth_fix.value = sys.getrecursionlimit()  # the program starts at depth 1, as in a fresh interpreter
    del _depth_fix
    exec(compile(_source, _path, "exec", dont_inherit=True), _main.__dict__)
except SystemExit as _e:
    _exit(_exit_code(_e))
except BaseException as _e:  # noqa: BLE001
    _tb = _e.__traceback__.tb_next if _e.__traceback__ is not None else None  # not this module's frame
    _e = _e.with_traceback(_tb)
    sys.last_type, sys.last_value, sys.last_traceback = type(_e), _e, _tb
    try:
        sys.excepthook(type(_e), _e, _tb)
    except BaseException:  # noqa: BLE001
        pass
    del _tb
    _exit(1, signal.SIGINT if isinstance(_e, KeyboardInterrupt) else 0)
else:
    _exit(0)
