#!/usr/bin/python3
"""Workload survey: does a root built by `jailbuild add PROG` do PROG's real work?

For each workload of the table below, a fresh root is built with `jailbuild add PROG [DATA_DIR]
--root R` (as a new user would: the program, plus at most one obvious data directory), then the
program does real work inside with `jailbuild run R ...`, and its OUTPUT is judged: against the same
command run on the host, or against a known answer. Exit status alone never makes a pass.

  tests/survey/run_survey.py [--jailbuild PATH] [--add-args "..."] [--json FILE] [--keep] [-j N]
                             [--only NAME,...] [--host-control]

Prints one line per workload, `PASS|FAIL|ABSENT name: reason`, then `N of M workloads work` (M counts
the workloads whose programs are on this host). A workload whose program (or the host feature it
tests, e.g. the en_US.UTF-8 locale) is missing is ABSENT, not failed.

Exit status: 0 once the survey ran, however many workloads failed (it is a survey, not a test of
each workload); 2 if no workload could be run at all (a vacuous survey), or bad usage, including
an `add` refusing --add-args as usage (exit 2); 3 if jailbuild itself crashed (killed by a signal,
or `add` ending with a status it never uses): never a workload's fault; 77 when not run as root
(`run` and fresh roots need it), as automake skips.

--host-control runs every workload on the host instead (each step in a mount namespace with an
empty /tmp, as in a jail), where every dependency is there: the control that shows each check can
pass, so a FAIL in a jail is the jail's. It exits 1 if any workload fails on the host.

Run as root on Debian 12. /usr/bin/python3 on purpose: the survey judges Debian's programs, and a
python3 earlier in PATH (pyenv) is not one of them. Every host command runs with
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, as `run` gives the jail.
"""

import argparse
import concurrent.futures
import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import io
import tempfile
import time

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN_TIMEOUT = 60    # seconds per `jailbuild run`; node or python starting on a loaded 2-core CI
ADD_TIMEOUT = 300

# The small C programs the libgcc and shell workloads run, compiled on the host with gcc into the
# survey's work directory and added like any program.
PTHREAD_CANCEL_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void *sleeper(void *arg) { (void)arg; for (;;) pause(); return NULL; }
int main(void) {
  pthread_t thread;
  void *result;
  if (pthread_create(&thread, NULL, sleeper, NULL) != 0) return 1;
  /* Unwinding the cancelled thread makes glibc dlopen libgcc_s.so.1; without it glibc aborts. */
  pthread_cancel(thread);
  pthread_join(thread, &result);
  puts(result == PTHREAD_CANCELED ? "cancelled" : "not cancelled");
  return 0;
}
"""
SYSTEM_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  /* system() runs /bin/sh -c; without a shell it returns status 127 and prints nothing. */
  int status = system("echo \"from sh: $((6 * 7))\"");
  printf("status %d\n", status);
  return 0;
}
"""

TEXT_UTF8 = "héllo wörld\nzebra\nÉcole\napple\n".encode()
NUMBERS = b"3\n1\n2\n10\n2\n"
BLOB = bytes(range(256)) * 64 + b"jailbuild survey\n" * 100


@dataclasses.dataclass
class Step:
  """One `jailbuild run` of a workload; its stdin is the previous step's stdout (or the workload's)."""
  argv: list


@dataclasses.dataclass
class Workload:
  name: str
  cls: str            # the class of runtime dependency it exercises, or "plain"
  add: list           # paths given to `jailbuild add` (the program first; at most one data dir)
  run: list           # argv run inside, or a list of Steps piped one into the next
  check: object       # see judge(): ("host",) | ("host", argv) | ("equal", bytes) | ("regex", r) | ("input",) | callable
  env: dict = dataclasses.field(default_factory=dict)
  stdin: bytes = b""
  stderr_clean: bool = False    # also fail when stderr says warning/error (silent fallbacks warn there)
  needs: object = None          # callable -> None, or the reason the workload is ABSENT on this host
  note: str = ""                # what the result cannot show on this host


def host_locale(name):
  """None if the host has the locale NAME (so a workload may ask for it), else why it is absent."""
  out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
  wanted = name.lower().replace("-", "")
  return None if any(l.lower().replace("-", "") == wanted for l in out) else f"host has no {name} locale"


def tar_owner_names(out):
  """The owner names tar wrote for the first member (ustar uname/gname; empty when tar found none)."""
  with tarfile.open(fileobj=io.BytesIO(out)) as archive:
    member = archive.getmembers()[0]
    return f"{member.uname or '<none>'}:{member.gname or '<none>'} ({member.uid}:{member.gid})"


def tar_xz_names(out):
  with tarfile.open(fileobj=io.BytesIO(out), mode="r:xz") as archive:
    return " ".join(archive.getnames())


def positive_int(out):
  text = out.decode(errors="replace").strip()
  return (text.isdigit() and int(text) > 0), text


def first_host_ca():
  """The first certificate of the host's CA bundle (ca-certificates), or b"" without one."""
  try:
    with open("/etc/ssl/certs/ca-certificates.crt", "rb") as bundle:
      first, end, _ = bundle.read().partition(b"-----END CERTIFICATE-----")
  except OSError:
    return b""
  return first + end + b"\n" if end else b""


def c_program(name):
  return lambda ctx: ctx.programs[name]


# The table. `add` and `run` name programs by their Debian paths; a path that is a function of the
# context is a program the survey compiled. Checks against the host run the same argv and stdin there.
WORKLOADS = [
  # user and group database
  Workload("id", "users", ["/usr/bin/id"], ["/usr/bin/id"], ("host",)),
  Workload("id-un", "users", ["/usr/bin/id"], ["/usr/bin/id", "-un"], ("equal", b"root\n")),
  Workload("whoami", "users", ["/usr/bin/whoami"], ["/usr/bin/whoami"], ("equal", b"root\n")),
  # /tmp is the jail's own tmpfs, owned by the jail's uid 0: its owner names are root's.
  Workload("ls-l-names", "users", ["/usr/bin/ls"], ["/usr/bin/ls", "-ld", "--time-style=+", "/tmp"],
           ("regex", rb"^drwxrwxrwt +\d+ root root ")),
  Workload("stat-names", "users", ["/usr/bin/stat"], ["/usr/bin/stat", "-c", "%U:%G", "/tmp"],
           ("equal", b"root:root\n")),
  Workload("tar-owner-names", "users", ["/usr/bin/tar"], ["/usr/bin/tar", "-cf", "-", "--no-recursion", "/tmp"],
           (tar_owner_names, "root:root (0:0)")),
  Workload("getent-passwd", "users", ["/usr/bin/getent"], ["/usr/bin/getent", "passwd", "root"], ("host",)),
  Workload("ssh-keygen", "users", ["/usr/bin/ssh-keygen"],
           ["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/tmp/key", "-C", "survey"], ("empty-ok",)),
  Workload("ssh-config-user", "users", ["/usr/bin/ssh"], ["/usr/bin/ssh", "-G", "localhost"],
           ("regex", rb"(?m)^user root$")),
  # name resolution
  Workload("getent-hosts", "hosts", ["/usr/bin/getent"], ["/usr/bin/getent", "hosts", "localhost"],
           ("regex", rb"^(127\.0\.0\.1|::1)\s+localhost\b")),
  Workload("python-getaddrinfo", "hosts", ["/usr/bin/python3", "/usr/lib/python3.11"],
           ["/usr/bin/python3", "-c",
            "import socket; print(sorted({a[4][0] for a in socket.getaddrinfo('localhost', 80)}))"],
           # The loopback addresses, not the host's answer: the root's /etc/hosts is Debian's
           # default (localhost both ways), the host's may list one (a container's holds no ::1).
           ("regex", rb"^\['(127\.0\.0\.1|::1)'(, '(127\.0\.0\.1|::1)')?\]$")),
  Workload("node-listen-localhost", "hosts", ["/usr/bin/node"],
           ["/usr/bin/node", "-e",
            "const s = require('net').createServer().listen(0, 'localhost', () => {"
            " console.log('listening on localhost'); s.close(); });"
            "s.on('error', e => { console.error(String(e)); process.exit(1); });"],
           ("equal", b"listening on localhost\n")),
  # glibc's own dlopens
  Workload("pthread-cancel", "libgcc", [c_program("cancel")], [c_program("cancel")], ("equal", b"cancelled\n")),
  Workload("iconv-latin1", "gconv", ["/usr/bin/iconv"], ["/usr/bin/iconv", "-f", "latin1", "-t", "utf-8"],
           ("equal", "café\n".encode()), stdin="café\n".encode("latin-1")),
  # locale
  Workload("wc-m-utf8", "locale", ["/usr/bin/wc"], ["/usr/bin/wc", "-m"], ("host",),
           env={"LANG": "C.UTF-8"}, stdin=TEXT_UTF8),
  Workload("sed-utf8", "locale", ["/usr/bin/sed"], ["/usr/bin/sed", "s/./x/g"], ("host",),
           env={"LANG": "C.UTF-8"}, stdin=TEXT_UTF8),
  Workload("bash-utf8-length", "locale", ["/usr/bin/bash"], ["/usr/bin/bash", "-c", "x=héllo; echo ${#x}"],
           ("equal", b"5\n"), env={"LANG": "C.UTF-8"}),
  Workload("locale-charmap", "locale", ["/usr/bin/locale"], ["/usr/bin/locale", "charmap"], ("equal", b"UTF-8\n"),
           env={"LANG": "C.UTF-8"}, stderr_clean=True),
  Workload("sort-en_US", "locale", ["/usr/bin/sort"], ["/usr/bin/sort"], ("host",),
           env={"LANG": "en_US.UTF-8", "LC_ALL": "en_US.UTF-8"}, stdin=TEXT_UTF8,
           needs=lambda: host_locale("en_US.UTF-8")),
  Workload("perl-no-locale-warning", "locale", ["/usr/bin/perl"], ["/usr/bin/perl", "-e", "print qq(ok\\n)"],
           ("equal", b"ok\n"), env={"LANG": "C.UTF-8"}, stderr_clean=True),
  # time zones
  Workload("date-TZ-Paris", "tz", ["/usr/bin/date"], ["/usr/bin/date", "-d", "@1700000000", "+%F %T %Z"],
           ("equal", b"2023-11-14 23:13:20 CET\n"), env={"TZ": "Europe/Paris"}),
  Workload("date-localtime", "tz", ["/usr/bin/date"], ["/usr/bin/date", "-d", "@1700000000", "+%Z %z"], ("host",),
           note="the host's /etc/localtime is UTC, which is also glibc's answer without one: this cannot fail here"),
  Workload("perl-localtime-TZ", "tz", ["/usr/bin/perl"], ["/usr/bin/perl", "-e", "print scalar localtime(0), qq(\\n)"],
           ("equal", b"Thu Jan  1 09:00:00 1970\n"), env={"TZ": "Asia/Tokyo"}),
  Workload("python-zoneinfo", "tz", ["/usr/bin/python3", "/usr/lib/python3.11"],
           ["/usr/bin/python3", "-c",
            "import datetime, zoneinfo; z = zoneinfo.ZoneInfo('America/New_York');"
            " print(datetime.datetime.fromtimestamp(1700000000, z).strftime('%F %T %Z'))"],
           ("equal", b"2023-11-14 17:13:20 EST\n")),
  # TLS
  Workload("python-ssl-cas", "tls", ["/usr/bin/python3", "/usr/lib/python3.11"],
           ["/usr/bin/python3", "-c", "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])"],
           (positive_int,)),
  Workload("openssl-req-x509", "tls", ["/usr/bin/openssl"], [
             Step(["/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-subj", "/CN=x", "-nodes", "-days", "1", "-keyout", "/tmp/key.pem"]),    # the certificate to stdout
             Step(["/usr/bin/openssl", "x509", "-noout", "-subject"])],
           ("equal", b"subject=CN = x\n")),
  # python3.11 alone (no data directory): the interpreter rule brings its standard library, whose
  # _ssl brings libssl, for which the tls rule brings the CA store.
  Workload("python-alone-ssl-cas", "tls", ["/usr/bin/python3.11"],
           ["/usr/bin/python3.11", "-c",
            "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])"], ("host",)),
  # The first CA of the host's bundle, given on stdin, verified against the jail's default store.
  Workload("openssl-verify-ca", "tls", ["/usr/bin/openssl"], ["/usr/bin/openssl", "verify"], ("equal", b"stdin: OK\n"),
           stdin=first_host_ca(), needs=lambda: None if first_host_ca() else "host has no CA bundle"),
  Workload("openssl-sha256", "plain", ["/usr/bin/openssl"], ["/usr/bin/openssl", "dgst", "-sha256", "-r"], ("host",),
           stdin=BLOB),
  # terminfo
  Workload("tput-cols", "terminfo", ["/usr/bin/tput"], ["/usr/bin/tput", "cols"], (positive_int,),
           env={"TERM": "xterm-256color"}),
  Workload("tput-colors", "terminfo", ["/usr/bin/tput"], ["/usr/bin/tput", "colors"], ("equal", b"256\n"),
           env={"TERM": "xterm-256color"}),
  Workload("clear", "terminfo", ["/usr/bin/clear"], ["/usr/bin/clear"], ("host",), env={"TERM": "xterm-256color"}),
  # a shell for system/popen
  Workload("c-system", "shell", [c_program("system")], [c_program("system")],
           ("equal", b"from sh: 42\nstatus 0\n")),
  # tar runs its compressor through /bin/sh -c; xz is added as a user who asks for -J would.
  Workload("tar-cJ", "shell", ["/usr/bin/tar", "/usr/bin/xz"], ["/usr/bin/tar", "-cJf", "-", "/etc/ld.so.conf"],
           (tar_xz_names, "etc/ld.so.conf")),
  Workload("make-recipe", "shell", ["/usr/bin/make"], ["/usr/bin/make", "-s", "-f", "-"], ("equal", b"42\n"),
           stdin=b"all:\n\t@echo \"$$((6 * 7))\"\n"),
  Workload("python-subprocess-shell", "shell", ["/usr/bin/python3", "/usr/lib/python3.11"],
           ["/usr/bin/python3", "-c",
            "import subprocess; print(subprocess.run('echo $((6 * 7))', shell=True, capture_output=True,"
            " text=True).stdout.strip())"], ("equal", b"42\n")),
  # interpreters and their module trees
  Workload("perl-modules", "interpreter", ["/usr/bin/perl", "/usr/share/perl/5.36"],
           ["/usr/bin/perl", "-e",
            "use POSIX qw(floor); use Data::Dumper; use Encode; $Data::Dumper::Indent = 0;"
            " print floor(2.5), ' ', Dumper([1]), ' ', length(encode('UTF-8', chr(0xe9))), qq(\\n)"],
           ("equal", b"2 $VAR1 = [1]; 2\n")),
  Workload("python-stdlib", "interpreter", ["/usr/bin/python3", "/usr/lib/python3.11"],
           ["/usr/bin/python3", "-c",
            "import json, sqlite3, hashlib, decimal; c = sqlite3.connect(':memory:');"
            " print(json.dumps({'sum': c.execute('select 1+2').fetchone()[0],"
            " 'sha': hashlib.sha256(b'x').hexdigest()[:8], 'dec': str(decimal.Decimal(1) / 8)}))"],
           ("host",)),
  Workload("ruby-json", "interpreter", ["/usr/bin/ruby"],
           ["/usr/bin/ruby", "-e", "require 'json'; puts JSON.generate({'a' => [1, 2]})"],
           ("equal", b'{"a":[1,2]}\n')),
  Workload("tclsh", "interpreter", ["/usr/bin/tclsh", "/usr/share/tcltk/tcl8.6"], ["/usr/bin/tclsh"],
           ("equal", b"HELLO 42\n"), stdin=b"puts \"[string toupper hello] [expr {6 * 7}]\"\n"),
  Workload("file-magic", "data", ["/usr/bin/file", "/usr/share/misc/magic.mgc"], ["/usr/bin/file", "-b", "/usr/bin/file"], ("host",)),
  # plain work: the loader's closure should be enough
  Workload("sha256sum", "plain", ["/usr/bin/sha256sum"], ["/usr/bin/sha256sum"], ("host",), stdin=BLOB),
  Workload("md5sum", "plain", ["/usr/bin/md5sum"], ["/usr/bin/md5sum"], ("host",), stdin=BLOB),
  Workload("base64", "plain", ["/usr/bin/base64"], ["/usr/bin/base64"], ("host",), stdin=BLOB),
  Workload("gzip-roundtrip", "plain", ["/usr/bin/gzip"],
           [Step(["/usr/bin/gzip", "-c"]), Step(["/usr/bin/gzip", "-dc"])], ("input",), stdin=BLOB),
  Workload("xz-roundtrip", "plain", ["/usr/bin/xz"],
           [Step(["/usr/bin/xz", "-c"]), Step(["/usr/bin/xz", "-dc"])], ("input",), stdin=BLOB),
  Workload("bzip2-roundtrip", "plain", ["/usr/bin/bzip2"],
           [Step(["/usr/bin/bzip2", "-c"]), Step(["/usr/bin/bzip2", "-dc"])], ("input",), stdin=BLOB),
  Workload("zstd-roundtrip", "plain", ["/usr/bin/zstd"],
           [Step(["/usr/bin/zstd", "-q", "-c"]), Step(["/usr/bin/zstd", "-q", "-dc"])], ("input",), stdin=BLOB),
  Workload("sed", "plain", ["/usr/bin/sed"], ["/usr/bin/sed", "-E", "s/([0-9]+)/<\\1>/"], ("host",), stdin=NUMBERS),
  Workload("awk", "plain", ["/usr/bin/mawk"], ["/usr/bin/mawk", "{ s += $1 } END { print s, NR }"], ("host",),
           stdin=NUMBERS),
  Workload("grep", "plain", ["/usr/bin/grep"], ["/usr/bin/grep", "-c", "-E", "^[0-9]$"], ("host",), stdin=NUMBERS),
  Workload("sort-n-uniq", "plain", ["/usr/bin/sort"], ["/usr/bin/sort", "-n", "-u"], ("host",), stdin=NUMBERS),
  Workload("find", "plain", ["/usr/bin/find"], ["/usr/bin/find", "/usr/bin", "-name", "find"],
           ("equal", b"/usr/bin/find\n")),
  Workload("jq", "plain", ["/usr/bin/jq"], ["/usr/bin/jq", "-c", "{b: (.a + 1), k: keys}"], ("host",),
           stdin=b'{"a": 1}'),
  Workload("sqlite3", "plain", ["/usr/bin/sqlite3"],
           ["/usr/bin/sqlite3", ":memory:", "create table t(x); insert into t values (1), (2), (39); select sum(x) from t;"],
           ("equal", b"42\n")),
  Workload("bc", "plain", ["/usr/bin/bc"], ["/usr/bin/bc", "-q"], ("host",), stdin=b"2^100\nscale=10; 1/7\n"),
  Workload("git-version", "plain", ["/usr/bin/git"], ["/usr/bin/git", "--version"], ("host",)),
  Workload("git-hash-object", "plain", ["/usr/bin/git"], ["/usr/bin/git", "hash-object", "--stdin"], ("host",),
           stdin=BLOB),
  Workload("git-init", "data", ["/usr/bin/git"], ["/usr/bin/git", "-c", "init.defaultBranch=main", "init", "/tmp/repo"],
           ("equal", b"Initialized empty Git repository in /tmp/repo/.git/\n"), env={"GIT_CONFIG_NOSYSTEM": "1"},
           stderr_clean=True),
  Workload("curl-version", "plain", ["/usr/bin/curl"], ["/usr/bin/curl", "--version"], ("host",)),
  Workload("xmllint-xpath", "plain", ["/usr/bin/xmllint"], ["/usr/bin/xmllint", "--xpath", "string(/a/b)", "-"],
           ("equal", b"hi\n"), stdin=b"<a><b>hi</b></a>"),
  Workload("readelf", "plain", ["/usr/bin/readelf"], ["/usr/bin/readelf", "-h", "/usr/bin/readelf"], ("host",)),
  Workload("busybox-sh", "plain", ["/usr/bin/busybox"], ["/usr/bin/busybox", "sh", "-c", "echo $((6 * 7))"],
           ("equal", b"42\n")),
  Workload("factor", "plain", ["/usr/bin/factor"], ["/usr/bin/factor", "1234567890"], ("host",)),
]


class Context:
  def __init__(self, args, work_dir):
    self.jailbuild = args.jailbuild
    self.add_args = shlex.split(args.add_args)
    self.keep = args.keep
    self.host_control = args.host_control
    self.work_dir = work_dir
    self.state_dir = os.path.join(work_dir, "state")
    self.programs = {}    # name -> path of a C program compiled for the survey
    self.program_errors = {}

  def compile_programs(self):
    """Builds the C workloads' programs; a missing gcc makes those workloads absent."""
    for name, source in (("cancel", PTHREAD_CANCEL_C), ("system", SYSTEM_C)):
      if not shutil.which("gcc", path=SYSTEM_PATH):
        self.program_errors[name] = "no gcc on this host to build the test program"
        continue
      directory = os.path.join(self.work_dir, "programs")
      os.makedirs(directory, exist_ok=True)
      source_path = os.path.join(directory, name + ".c")
      with open(source_path, "w") as f:
        f.write(source)
      binary = os.path.join(directory, name)
      built = subprocess.run(["gcc", "-O1", "-pthread", "-o", binary, source_path], capture_output=True, text=True,
                             env=host_env({}))
      if built.returncode != 0:
        self.program_errors[name] = "gcc failed: " + built.stderr.strip()[:200]
      else:
        self.programs[name] = binary


def host_env(extra):
  env = {"PATH": SYSTEM_PATH, "HOME": "/root", "TERM": os.environ.get("TERM", "dumb"), "LANG": "C.UTF-8"}
  env.update(extra)
  return env


def resolve(ctx, value):
  return value(ctx) if callable(value) else value


def excerpt(data, limit=240):
  """DATA on one line; when long, its start and its end (where a traceback names the cause)."""
  text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
  text = text.strip().replace("\n", "\\n")
  return text if len(text) <= limit else text[:limit // 3] + " ... " + text[-(limit * 2 // 3):]


def absent_reason(ctx, workload):
  for path in workload.add:
    if callable(path):
      try:
        path = path(ctx)
      except KeyError:    # a C workload whose program could not be compiled
        return next(iter(ctx.program_errors.values()), "test program not built")
    if not os.path.lexists(path):
      return f"{path} is not on this host"
  if workload.needs:
    return workload.needs()
  return None


class JailbuildCrash(Exception):
  pass


class SurveyBroken(Exception):
  """Not a workload's failure: the survey asked for something jailbuild refuses (e.g. --add-args)."""


def call_jailbuild(ctx, argv, stdin, timeout):
  """Runs jailbuild; a death by signal is jailbuild's own crash (run reports a program's as 128+N)."""
  try:
    done = subprocess.run([ctx.jailbuild] + argv, input=stdin, capture_output=True, timeout=timeout)
  except subprocess.TimeoutExpired as e:
    return None, e.stdout or b"", e.stderr or b""
  if done.returncode < 0:
    command = next(a for a in argv if not a.startswith("-"))
    raise JailbuildCrash(f"jailbuild {command} killed by signal {-done.returncode}: {excerpt(done.stderr)}")
  return done.returncode, done.stdout, done.stderr


def run_workload(ctx, workload):
  """Returns a result dict: status PASS/FAIL, reason, expected, got, stderr, seconds."""
  started = time.monotonic()
  result = build_and_run(ctx, workload)
  result["seconds"] = round(time.monotonic() - started, 2)
  return result


def build_and_run(ctx, workload):
  result = {"name": workload.name, "class": workload.cls, "add": [resolve(ctx, p) for p in workload.add]}
  if ctx.host_control:
    return result | run_on_host(ctx, workload)
  root = tempfile.mkdtemp(prefix=workload.name + ".", dir=os.path.join(ctx.work_dir, "roots"))
  result["root"] = root
  try:
    status, _, add_err = call_jailbuild(ctx, ["-q", "add"] + ctx.add_args + result["add"] +
                                        ["--root", root, "--state-dir", ctx.state_dir], None, ADD_TIMEOUT)
    if status is None:
      return result | fail("add timed out", "", "", add_err)
    if status not in (0, 1, 2):
      raise JailbuildCrash(f"jailbuild add exited {status}: {excerpt(add_err)}")
    if status == 2:    # bad usage (--add-args) or a bad root path: the survey's own fault
      raise SurveyBroken(f"jailbuild add exited 2 (usage): {excerpt(add_err)}")
    if status != 0:
      return result | fail(f"add exited {status}", "", "", add_err)
    steps = workload.run if isinstance(workload.run[0], Step) else [Step(workload.run)]
    env_args = [a for k, v in workload.env.items() for a in ("--env", f"{k}={v}")]
    data, errors = workload.stdin, b""
    for step in steps:
      argv = [resolve(ctx, a) for a in step.argv]
      status, data, err = call_jailbuild(ctx, ["run"] + env_args + [root] + argv, data, RUN_TIMEOUT)
      errors += err
      if status is None:
        return result | fail(f"timed out after {RUN_TIMEOUT}s: {argv[0]}", "", data, errors)
      if status != 0:
        return result | fail(f"exit {status} from {os.path.basename(argv[0])}", "", data, errors)
    return result | judge(ctx, workload, data, errors)
  finally:
    if not ctx.keep:
      shutil.rmtree(root, ignore_errors=True)


def run_on_host(ctx, workload):
  """The control: the same steps on the host itself, each in a mount namespace with an empty /tmp as
  the jail has. A workload that fails here has a wrong check, not a missing dependency."""
  steps = workload.run if isinstance(workload.run[0], Step) else [Step(workload.run)]
  data, errors = workload.stdin, b""
  for step in steps:
    argv = [resolve(ctx, a) for a in step.argv]
    wrapped = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount -t tmpfs -o mode=1777 survey-tmp /tmp && exec "$@"', "sh"] + argv
    try:
      done = subprocess.run(wrapped, input=data, capture_output=True, timeout=RUN_TIMEOUT,
                            env=host_env(workload.env), cwd="/")
    except subprocess.TimeoutExpired:
      return fail(f"timed out on the host: {argv[0]}", "", "", errors)
    data, errors = done.stdout, errors + done.stderr
    if done.returncode != 0:
      return fail(f"exit {done.returncode} on the host from {os.path.basename(argv[0])}", "", data, errors)
  return judge(ctx, workload, data, errors)


def fail(reason, expected, got, stderr):
  return {"status": "FAIL", "reason": reason, "expected": excerpt(expected), "got": excerpt(got),
          "stderr": excerpt(stderr)}


def judge(ctx, workload, out, errors):
  kind = workload.check[0]
  if kind == "host":
    argv = [resolve(ctx, a) for a in (workload.check[1] if len(workload.check) > 1 else workload.run)]
    expected = subprocess.run(argv, input=workload.stdin, capture_output=True, env=host_env(workload.env)).stdout
    ok = out == expected
  elif kind == "equal":
    expected = workload.check[1]
    ok = out == expected
  elif kind == "regex":
    expected = "/" + workload.check[1].decode() + "/"
    ok = re.search(workload.check[1], out) is not None
  elif kind == "input":
    expected = workload.stdin
    ok = out == expected
    if not ok:
      expected, out = f"{len(expected)} bytes back", f"{len(out)} bytes"
  elif kind == "empty-ok":    # the work is a file in the jail's /tmp; success is exit 0 and silence
    expected = b""
    ok = out == b"" and errors == b""
  elif callable(kind):
    try:
      if len(workload.check) > 1:
        expected = workload.check[1]
        got = kind(out)
        ok = got == expected
      else:
        expected = "a positive number"
        ok, got = kind(out)
    except Exception as e:    # unreadable output is a wrong answer, not a broken survey
      expected = workload.check[1] if len(workload.check) > 1 else "a positive number"
      ok, got = False, f"unreadable output ({e.__class__.__name__}: {e})"
    if not ok:
      return fail("wrong output (exit 0)", expected, got, errors)
    out = got
  else:
    raise ValueError(f"{workload.name}: unknown check {kind!r}")
  if not ok:
    return fail("wrong output (exit 0)", expected, out, errors)
  if workload.stderr_clean and re.search(rb"(?i)warning|error|fatal|cannot|failed", errors):
    return fail("right output, but stderr complains", "", out, errors)
  reason = "output as expected" + (f"; note: {workload.note}" if workload.note else "")
  return {"status": "PASS", "reason": reason, "got": excerpt(out), "stderr": excerpt(errors)}


def main():
  default_jailbuild = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "jailbuild")
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--jailbuild", default=os.path.normpath(default_jailbuild),
                      help="the jailbuild binary (default: build/jailbuild of this checkout)")
  parser.add_argument("--add-args", default="", help="words added to every `jailbuild add`, e.g. '--without all'")
  parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
  parser.add_argument("--keep", action="store_true", help="keep the roots (their paths are in the JSON)")
  parser.add_argument("-j", "--jobs", type=int, default=2, help="roots built and run at once (default 2)")
  parser.add_argument("--only", default="", help="comma-separated workload names to run (default: all)")
  parser.add_argument("--host-control", action="store_true",
                      help="run every workload on the host instead of in a jail: checks the checks")
  parser.add_argument("--work-dir", default="/var/tmp", help="where the survey's roots go (default /var/tmp)")
  args = parser.parse_args()

  if os.geteuid() != 0:
    print("run_survey: skipped: needs root (fresh roots and `jailbuild run` as root)", file=sys.stderr)
    return 77
  if not args.host_control and not os.access(args.jailbuild, os.X_OK):
    print(f"run_survey: {args.jailbuild}: no jailbuild binary there (build it, or give --jailbuild)", file=sys.stderr)
    return 2
  if args.jobs < 1:
    parser.error("-j must be at least 1")
  selected = WORKLOADS
  if args.only:
    names = args.only.split(",")
    unknown = sorted(set(names) - {w.name for w in WORKLOADS})
    if unknown:
      parser.error("unknown workload(s): " + ", ".join(unknown))
    selected = [w for w in WORKLOADS if w.name in names]

  work_dir = tempfile.mkdtemp(prefix="jailbuild-survey.", dir=args.work_dir)
  # The compiled programs keep their directories' modes in the roots; mkdtemp's 0700 would stop the
  # jail's user (not the host's root) at the first one.
  os.chmod(work_dir, 0o755)
  os.makedirs(os.path.join(work_dir, "roots"))
  ctx = Context(args, work_dir)
  ctx.compile_programs()
  print(f"# jailbuild survey: {len(selected)} workloads, add args: {args.add_args or '(none)'}, "
        f"jailbuild {args.jailbuild}, work dir {work_dir}", flush=True)

  results = {}
  crashes = []
  broken_reasons = []
  runnable = []
  for workload in selected:
    reason = absent_reason(ctx, workload)
    if reason:
      results[workload.name] = {"name": workload.name, "class": workload.cls, "status": "ABSENT", "reason": reason}
    else:
      runnable.append(workload)
  with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
    futures = {pool.submit(run_workload, ctx, w): w for w in runnable}
    for future in concurrent.futures.as_completed(futures):
      workload = futures[future]
      try:
        results[workload.name] = future.result()
      except SurveyBroken as broken:
        broken_reasons.append(str(broken))
        results[workload.name] = {"name": workload.name, "class": workload.cls, "status": "FAIL",
                                  "reason": "SURVEY BROKEN: " + str(broken)}
      except JailbuildCrash as crash:
        crashes.append(str(crash))
        results[workload.name] = {"name": workload.name, "class": workload.cls, "status": "FAIL",
                                  "reason": "JAILBUILD CRASHED: " + str(crash)}

  ordered = [results[w.name] for w in selected]
  for r in ordered:
    line = f"{r['status']} {r['name']}: {r['reason']}"
    if r["status"] == "FAIL":
      details = [f"{k} {r[k]!r}" for k in ("expected", "got") if r.get(k)]
      if r.get("stderr"):
        details.append(f"stderr {r['stderr']!r}")
      if details:
        line += " (" + ", ".join(details) + ")"
    print(line)
  passed = sum(r["status"] == "PASS" for r in ordered)
  ran = sum(r["status"] != "ABSENT" for r in ordered)
  absent = len(ordered) - ran
  print(f"{passed} of {ran} workloads work" + (f" ({absent} absent on this host)" if absent else ""))

  if args.json:
    with open(args.json, "w") as f:
      json.dump({"add_args": args.add_args, "jailbuild": args.jailbuild, "passed": passed, "ran": ran,
                 "absent": absent, "crashes": crashes, "results": ordered}, f, indent=2)
      f.write("\n")
  if not args.keep:
    shutil.rmtree(work_dir, ignore_errors=True)
  if crashes:
    print("run_survey: jailbuild crashed: " + "; ".join(crashes), file=sys.stderr)
    return 3
  if broken_reasons:
    print(f"run_survey: the survey is broken: {broken_reasons[0]}", file=sys.stderr)
    return 2
  if ran == 0:
    print("run_survey: no workload could be run: the survey says nothing", file=sys.stderr)
    return 2
  if args.host_control and passed != ran:
    print("run_survey: --host-control: a check fails on the host itself: the check is wrong", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
