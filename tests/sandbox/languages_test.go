package sandbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Every language's program below reads a command from stdin and does it:
//
//	sum A B  print A+B
//	hello    print hello
//	crash    fail at run time (an exception, a panic, a signal, exit 3)
//	loop     spin forever
//	alloc    allocate and touch memory until stopped
//	escape   connect to 1.1.1.1:80, then write /usr/bin/rewardmesh-escape and
//	         /rewardmesh-escape; print connected or refused, wrote or denied
//	bomb     start processes (or, on the JVM, threads) forever
//
// One source a language: a compiled language compiles once and the cache
// serves every other submission of it, which keeps the suite short.
const escaped = "refused\ndenied\ndenied\n"

const pythonProgram = `import os, socket, sys
t = sys.stdin.read().split()
c = t[0]
if c == "sum":
    print(int(t[1]) + int(t[2]))
elif c == "hello":
    print("hello")
elif c == "crash":
    print(1 // 0)
elif c == "loop":
    while True:
        pass
elif c == "alloc":
    a = []
    while True:
        a.append(b"x" * (16 << 20))
elif c == "escape":
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("1.1.1.1", 80))
        print("connected")
    except OSError:
        print("refused")
    for p in ["/usr/bin/rewardmesh-escape", "/rewardmesh-escape"]:
        try:
            with open(p, "w") as f:
                f.write("x")
            print("wrote")
        except OSError:
            print("denied")
elif c == "bomb":
    while True:
        try:
            os.fork()
        except OSError:
            pass
`

const cEscape = `static void escape(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET; sa.sin_port = htons(80); inet_pton(AF_INET, "1.1.1.1", &sa.sin_addr);
  puts(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? "connected" : "refused");
  const char *paths[] = {"/usr/bin/rewardmesh-escape", "/rewardmesh-escape"};
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(paths[i], "w");
    puts(f ? "wrote" : "denied");
    if (f) fclose(f);
  }
  fflush(stdout);
}
`

const cProgram = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
` + cEscape + `
int main(void) {
  char c[16] = {0};
  long long a = 0, b = 0;
  if (scanf("%15s %lld %lld", c, &a, &b) < 1) return 2;
  if (!strcmp(c, "sum")) printf("%lld\n", a + b);
  else if (!strcmp(c, "hello")) puts("hello");
  else if (!strcmp(c, "crash")) { volatile int *p = NULL; *p = 1; }
  else if (!strcmp(c, "loop")) { volatile unsigned long x = 0; for (;;) x++; }
  else if (!strcmp(c, "escape")) escape();
  else if (!strcmp(c, "bomb")) for (;;) fork();
  return 0;
}
`

const cppProgram = `#include <bits/stdc++.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
` + cEscape + `
int main() {
  std::string c;
  long long a = 0, b = 0;
  std::cin >> c >> a >> b;
  if (c == "sum") std::cout << a + b << std::endl;
  else if (c == "hello") std::cout << "hello" << std::endl;
  else if (c == "crash") { std::vector<int> v; return v.at(c.size() + 5); }
  else if (c == "loop") { volatile unsigned long x = 0; for (;;) x++; }
  else if (c == "alloc") { std::vector<std::vector<char>> l; for (;;) l.emplace_back(16 << 20, 1); }
  else if (c == "escape") escape();
  else if (c == "bomb") for (;;) fork();
}
`

// The file must be Solution.java: the sandbox names it after the public class.
const javaProgram = `import java.io.*;
import java.net.*;
import java.util.*;

class Helper {
    static long add(long a, long b) { return a + b; }
}

public class Solution {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringBuilder sb = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) sb.append(line).append(' ');
        String[] t = sb.toString().trim().split("\\s+");
        switch (t[0]) {
            case "sum": System.out.println(Helper.add(Long.parseLong(t[1]), Long.parseLong(t[2]))); break;
            case "hello": System.out.println("hello"); break;
            case "crash": int[] a = new int[1]; System.out.println(a[t.length + 5]); break;
            case "loop": long x = 0; while (true) { x = x * 6364136223846793005L + 1; if (x == 42) System.out.println(x); }
            case "alloc": List<long[]> l = new ArrayList<>(); while (true) l.add(new long[2 << 20]);
            case "escape":
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("1.1.1.1", 80), 2000);
                    System.out.println("connected");
                } catch (IOException e) {
                    System.out.println("refused");
                }
                for (String p : new String[]{"/usr/bin/rewardmesh-escape", "/rewardmesh-escape"}) {
                    try (FileOutputStream f = new FileOutputStream(p)) {
                        f.write(1);
                        System.out.println("wrote");
                    } catch (IOException e) {
                        System.out.println("denied");
                    }
                }
                break;
            case "bomb":
                while (true) {
                    try {
                        Thread th = new Thread(() -> { try { Thread.sleep(100000); } catch (InterruptedException e) { } });
                        th.setDaemon(true);
                        th.start();
                    } catch (Throwable e) { }
                }
        }
    }
}
`

const kotlinProgram = `import java.io.File
import java.net.InetSocketAddress
import java.net.Socket

fun main() {
    val t = generateSequence(::readLine).joinToString(" ").trim().split(Regex("\\s+"))
    when (t[0]) {
        "sum" -> println(t[1].toLong() + t[2].toLong())
        "hello" -> println("hello")
        "crash" -> throw IllegalStateException("boom")
        "loop" -> { var x = 0L; while (true) { x = x * 6364136223846793005L + 1; if (x == 42L) println(x) } }
        "alloc" -> { val l = ArrayList<LongArray>(); while (true) l.add(LongArray(2 shl 20)) }
        "escape" -> {
            try {
                Socket().use { it.connect(InetSocketAddress("1.1.1.1", 80), 2000) }
                println("connected")
            } catch (e: Exception) {
                println("refused")
            }
            for (p in listOf("/usr/bin/rewardmesh-escape", "/rewardmesh-escape")) {
                try { File(p).writeText("x"); println("wrote") } catch (e: Exception) { println("denied") }
            }
        }
        "bomb" -> while (true) {
            try { val th = Thread { Thread.sleep(100000) }; th.isDaemon = true; th.start() } catch (e: Throwable) { }
        }
    }
}
`

const goProgram = `package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Split(bufio.ScanWords)
	var t []string
	for sc.Scan() {
		t = append(t, sc.Text())
	}
	switch t[0] {
	case "sum":
		a, _ := strconv.ParseInt(t[1], 10, 64)
		b, _ := strconv.ParseInt(t[2], 10, 64)
		fmt.Println(a + b)
	case "hello":
		fmt.Println("hello")
	case "crash":
		var m map[string]int
		m["x"] = 1
	case "loop":
		x := uint64(0)
		for {
			x = x*6364136223846793005 + 1
			if x == 42 {
				fmt.Println(x)
			}
		}
	case "alloc":
		var l [][]byte
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				b[i] = 1
			}
			l = append(l, b)
		}
	case "escape":
		if c, err := net.DialTimeout("tcp", "1.1.1.1:80", 2*time.Second); err == nil {
			c.Close()
			fmt.Println("connected")
		} else {
			fmt.Println("refused")
		}
		for _, p := range []string{"/usr/bin/rewardmesh-escape", "/rewardmesh-escape"} {
			if err := os.WriteFile(p, []byte("x"), 0o644); err == nil {
				fmt.Println("wrote")
			} else {
				fmt.Println("denied")
			}
		}
	case "bomb":
		for {
			_ = exec.Command("sleep", "100").Start()
		}
	}
}
`

const jsProgram = `const fs = require("fs"), net = require("net"), cp = require("child_process");
const t = fs.readFileSync(0, "utf8").split(/\s+/).filter(Boolean);
switch (t[0]) {
  case "sum": console.log(Number(t[1]) + Number(t[2])); break;
  case "hello": console.log("hello"); break;
  case "crash": throw new Error("boom");
  case "loop": { let x = 0; for (;;) { x = (x * 31 + 1) | 0; if (x === 42.5) console.log(x); } }
  case "alloc": { const a = []; for (;;) a.push(Buffer.alloc(16 << 20, 1)); }
  case "escape": {
    const s = net.connect({ host: "1.1.1.1", port: 80 });
    let done = false;
    const end = (what) => {
      if (done) return;
      done = true;
      s.destroy();
      console.log(what);
      for (const p of ["/usr/bin/rewardmesh-escape", "/rewardmesh-escape"]) {
        try { fs.writeFileSync(p, "x"); console.log("wrote"); } catch (e) { console.log("denied"); }
      }
    };
    s.on("connect", () => end("connected"));
    s.on("error", () => end("refused"));
    s.setTimeout(2000, () => end("refused"));
    break;
  }
  case "bomb": for (;;) { try { cp.spawn("sleep", ["100"]); } catch (e) { } }
}
`

const tsProgram = `import * as fs from "fs";
import * as net from "net";
import * as cp from "child_process";

type Command = "sum" | "hello" | "crash" | "loop" | "alloc" | "escape" | "bomb";
const t: string[] = fs.readFileSync(0, "utf8").split(/\s+/).filter(Boolean);
const command = t[0] as Command;
function escape(): void {
  const s: net.Socket = net.connect({ host: "1.1.1.1", port: 80 });
  let done = false;
  const end = (what: string): void => {
    if (done) return;
    done = true;
    s.destroy();
    console.log(what);
    for (const p of ["/usr/bin/rewardmesh-escape", "/rewardmesh-escape"]) {
      try { fs.writeFileSync(p, "x"); console.log("wrote"); } catch (e: unknown) { console.log("denied"); }
    }
  };
  s.on("connect", () => end("connected"));
  s.on("error", () => end("refused"));
  s.setTimeout(2000, () => end("refused"));
}
switch (command) {
  case "sum": console.log(Number(t[1]) + Number(t[2])); break;
  case "hello": console.log("hello"); break;
  case "crash": throw new Error("boom");
  case "loop": { let x: number = 0; for (;;) { x = (x * 31 + 1) | 0; if (x === 42.5) console.log(x); } }
  case "alloc": { const a: Buffer[] = []; for (;;) a.push(Buffer.alloc(16 << 20, 1)); }
  case "escape": escape(); break;
  case "bomb": for (;;) { try { cp.spawn("sleep", ["100"]); } catch (e: unknown) { } }
}
`

const rustProgram = `use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    let t: Vec<&str> = s.split_whitespace().collect();
    match t[0] {
        "sum" => println!("{}", t[1].parse::<i64>().unwrap() + t[2].parse::<i64>().unwrap()),
        "hello" => println!("hello"),
        "crash" => panic!("boom"),
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                if x == 42 {
                    println!("{}", x);
                }
            }
        }
        "alloc" => {
            let mut l: Vec<Vec<u8>> = Vec::new();
            loop {
                l.push(vec![1u8; 16 << 20]);
            }
        }
        "escape" => {
            let addr: SocketAddr = "1.1.1.1:80".parse().unwrap();
            match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(_) => println!("connected"),
                Err(_) => println!("refused"),
            }
            for p in ["/usr/bin/rewardmesh-escape", "/rewardmesh-escape"] {
                match std::fs::File::create(p).and_then(|mut f| f.write_all(b"x")) {
                    Ok(_) => println!("wrote"),
                    Err(_) => println!("denied"),
                }
            }
        }
        "bomb" => loop {
            let _ = std::process::Command::new("sleep").arg("100").spawn();
        },
        _ => {}
    }
}
`

const rubyProgram = `require "socket"
t = STDIN.read.split
case t[0]
when "sum" then puts t[1].to_i + t[2].to_i
when "hello" then puts "hello"
when "crash" then raise "boom"
when "loop" then loop {}
when "alloc"
  a = []
  loop { a << "x" * (16 << 20) }
when "escape"
  begin
    Socket.tcp("1.1.1.1", 80, connect_timeout: 2).close
    puts "connected"
  rescue StandardError
    puts "refused"
  end
  ["/usr/bin/rewardmesh-escape", "/rewardmesh-escape"].each do |p|
    File.write(p, "x")
    puts "wrote"
  rescue SystemCallError
    puts "denied"
  end
when "bomb"
  loop do
    fork
  rescue StandardError
    nil
  end
end
`

const bashProgram = `read -r c a b
case $c in
sum) echo $((a + b)) ;;
hello) echo hello ;;
crash) exit 3 ;;
loop) while :; do :; done ;;
alloc) s=xxxxxxxxxxxxxxxx; while :; do s=$s$s; done ;;
escape)
  if (exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null; then echo connected; else echo refused; fi
  for p in /usr/bin/rewardmesh-escape /rewardmesh-escape; do
    if (echo x > "$p") 2>/dev/null; then echo wrote; else echo denied; fi
  done ;;
bomb) :(){ :|:; };: ;;
esac
`

type languageCase struct {
	lang, program string
	compileError  string // a program that does not compile; "" for an interpreted language
	noAlloc       bool   // C: malloc under RLIMIT_AS fails inside the program (the hostile suite's static array is C's MLE)
}

var languageCases = []languageCase{
	{lang: "python", program: pythonProgram},
	{lang: "pypy3", program: pythonProgram},
	{lang: "cpp", program: cppProgram, compileError: "int main( {\n"},
	{lang: "cpp20", program: cppProgram, compileError: "int main() { auto x = ; }\n"},
	{lang: "c", program: cProgram, compileError: "int main(void) { return x; }\n", noAlloc: true},
	{lang: "java", program: javaProgram, compileError: "public class Main { void f( }\n"},
	{lang: "kotlin", program: kotlinProgram, compileError: "fun main() { val x: Int = \"s\" }\n"},
	{lang: "go", program: goProgram, compileError: "package main\nfunc main() { x := }\n"},
	{lang: "javascript", program: jsProgram},
	{lang: "typescript", program: tsProgram, compileError: "let x: = ;\n"},
	{lang: "rust", program: rustProgram, compileError: "fn main() { let x: i32 = \"s\"; }\n"},
	{lang: "ruby", program: rubyProgram},
	{lang: "bash", program: bashProgram},
}

// TestLanguages runs, for every language, hello world and an escape attempt
// through Run, and judges a stdin sum (AC and WA), a compile error, a runtime
// error, a busy loop (TLE), an allocation past the limit (MLE) and a fork or
// thread bomb (TLE or RE), each in real containers.
func TestLanguages(t *testing.T) {
	s := newSandbox(t, sandbox.Config{Concurrency: 2, QueueSize: 64})
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	for _, lc := range languageCases {
		t.Run(lc.lang, func(t *testing.T) {
			t.Parallel()
			judge := func(t *testing.T, src, input, output string, timeMS, memMB int) sandbox.JudgeResult {
				t.Helper()
				res, err := s.Judge(ctx, sandbox.JudgeItem{Language: lc.lang, Source: src, TimeLimitMS: timeMS, MemoryLimitMB: memMB,
					Tests: []reward.TestCase{{Input: input, Output: output}}})
				if err != nil {
					t.Fatalf("judge %q: %v", input, err)
				}
				return res
			}
			run := func(t *testing.T, stdin string) sandbox.RunResult {
				t.Helper()
				res, err := s.Run(ctx, sandbox.RunItem{Language: lc.lang, Source: lc.program, Stdin: stdin, TimeLimitMS: 10000})
				if err != nil {
					t.Fatalf("run %q: %v", stdin, err)
				}
				return res
			}
			if res := run(t, "hello\n"); res.Status != "ok" || res.Stdout != "hello\n" {
				t.Fatalf("hello: status %s stdout %q stderr %q compile %+v", res.Status, res.Stdout, res.Stderr, res.Compile)
			}
			sum := []reward.TestCase{{Input: "sum 2 3\n", Output: "5\n"}, {Input: "sum 10 -4\n", Output: "6\n"}}
			if res, err := s.Judge(ctx, sandbox.JudgeItem{Language: lc.lang, Source: lc.program, Tests: sum, TimeLimitMS: 5000}); err != nil || res.Verdict != reward.Accepted || res.Passed != 2 {
				t.Errorf("stdin sum: %+v, %v; want AC on both tests", res, err)
			}
			if res := judge(t, lc.program, "sum 2 3\n", "7\n", 5000, 0); res.Verdict != reward.WrongAnswer {
				t.Errorf("a wrong sum: verdict %s, want WA (%+v)", res.Verdict, res)
			}
			if lc.compileError != "" {
				if res := judge(t, lc.compileError, "sum 1 1\n", "2\n", 5000, 0); res.Verdict != reward.CompileError || res.CompileOutput == "" {
					t.Errorf("compile error: verdict %s, output %q; want CE with the compiler's message", res.Verdict, res.CompileOutput)
				}
			}
			if res := judge(t, lc.program, "crash\n", "\n", 5000, 0); res.Verdict != reward.RuntimeError {
				t.Errorf("crash: verdict %s, want RE (%+v)", res.Verdict, res)
			}
			if res := judge(t, lc.program, "loop\n", "\n", 1000, 0); res.Verdict != reward.TimeLimitExceeded {
				t.Errorf("busy loop: verdict %s, want TLE (%+v)", res.Verdict, res)
			}
			if !lc.noAlloc {
				if res := judge(t, lc.program, "alloc\n", "\n", 10000, 256); res.Verdict != reward.MemoryLimitExceeded {
					t.Errorf("allocation past 256 MB: verdict %s, want MLE (%+v)", res.Verdict, res)
				}
			}
			if res := run(t, "escape\n"); res.Status != "ok" || res.Stdout != escaped {
				t.Errorf("escape: status %s stdout %q stderr %q, want ok and %q", res.Status, res.Stdout, res.Stderr, escaped)
			}
			if res := judge(t, lc.program, "bomb\n", "\n", 1000, 0); res.Verdict != reward.TimeLimitExceeded && res.Verdict != reward.RuntimeError {
				t.Errorf("bomb: verdict %s, want TLE or RE (%+v)", res.Verdict, res)
			}
			// After the attacks, the language still judges right.
			if res := judge(t, lc.program, "sum 20 22\n", "42\n", 5000, 0); res.Verdict != reward.Accepted {
				t.Errorf("after the attacks: verdict %s, want AC (%+v)", res.Verdict, res)
			}
		})
	}
}

// The JVM languages' time limit is twice the item's (the sandbox's README says
// so): a Java program that spins 1.1 s of CPU besides the JVM's start is AC
// under a 1 s limit, with a time over that limit.
func TestLanguagesJVMTimeFactor(t *testing.T) {
	s := newSandbox(t, sandbox.Config{Concurrency: 2})
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	spin := `import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

public class Spin {
    public static void main(String[] a) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long end = mx.getCurrentThreadCpuTime() + 1_100_000_000L;
        long x = 0;
        while (mx.getCurrentThreadCpuTime() < end) x++;
        System.out.println(x > 0 ? "1" : "0");
    }
}
`
	res, err := s.Judge(ctx, sandbox.JudgeItem{Language: "java", Source: spin, TimeLimitMS: 1000, Tests: []reward.TestCase{{Input: "", Output: "1\n"}}})
	if err != nil || res.Verdict != reward.Accepted {
		t.Fatalf("1.1 s of spinning under a 1 s limit (2 s for Java): %+v, %v; want AC", res, err)
	}
	if res.Tests[0].TimeMS <= 1000 {
		t.Fatalf("time_ms %d, want over the item's 1000 ms (the spin alone is 1100)", res.Tests[0].TimeMS)
	}
}
