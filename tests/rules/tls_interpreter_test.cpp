// The rules `tls` and `interpreter` end to end: roots built by `jailbuild add PROG` alone, then real
// work run in them by `jailbuild run` with its OUTPUT checked (against the host's answer, or by the
// host's openssl reading what the jail wrote), each beside its control, the same root built with
// `--without RULE`, where the work fails or answers wrong.
//
// The roots are under /var/tmp (JailSuite): the jail mounts a fresh tmpfs on /tmp.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/command_test_support.hpp"
#include "support/rule_suite.hpp"
#include "support/loader_oracle.hpp"

namespace jailbuild {
namespace {

using namespace testing;

const std::string kOpenssl = "/usr/bin/openssl";
const std::string kPython = "/usr/bin/python3.11";
const std::string kPerl = "/usr/bin/perl";
const std::string kRuby = "/usr/bin/ruby";

// A self-signed certificate for CN=x, written to standard output (the key to the jail's /tmp).
const std::vector<std::string> kOpensslReq = {
    kOpenssl, "req",   "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-subj", "/CN=x", "-days",   "1",  "-keyout",  "/tmp/key.pem"};

// The CAs Python's default TLS context trusts, as it counts them.
const std::string kPythonCaCount = "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])";

// Modules of the standard library, pure Python and C extensions (lib-dynload: _json, _decimal,
// _sqlite3 with libsqlite3, _hashlib with libcrypto), doing real work.
const std::string kPythonStdlib =
    "import json, decimal, sqlite3, hashlib, ssl; c = sqlite3.connect(':memory:');"
    " print(json.dumps({'sum': c.execute('select 1+2').fetchone()[0], 'sha': hashlib.sha256(b'x').hexdigest()[:8],"
    " 'dec': str(decimal.Decimal(1) / 8), 'tls': ssl.OPENSSL_VERSION.split()[0]}))";

// POSIX and Encode are XS modules of archlib (/usr/lib/x86_64-linux-gnu/perl/5.36), Data::Dumper
// too; strict and warnings come from Debian's perl-base.
const std::string kPerlModules =
    "use strict; use warnings; use POSIX qw(floor); use Data::Dumper; use Encode; $Data::Dumper::Indent = 0;"
    " print floor(2.5), ' ', Dumper([1]), ' ', length(encode('UTF-8', chr(0xe9))), qq(\\n)";

class TlsInterpreter : public RuleSuite {
 protected:
  static void SetUpTestSuite() { make_suite_directory("tls-interpreter"); }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: jailbuild run";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  static bool on_host(const std::string& program) { return ::access(program.c_str(), X_OK) == 0; }

  // The first certificate of the host's CA directory (a root CA, self-signed), by its real path.
  static std::string a_host_ca() {
    for (const auto& entry : std::filesystem::directory_iterator("/etc/ssl/certs")) {
      if (entry.path().extension() != ".pem" || !std::filesystem::is_regular_file(entry.path())) continue;
      return std::filesystem::canonical(entry.path());
    }
    return "";
  }
};

// The PEM certificate in `output` (stdout and stderr interleaved), or "".
std::string pem_certificate(const std::string& output) {
  const std::string begin = "-----BEGIN CERTIFICATE-----";
  const std::string end = "-----END CERTIFICATE-----";
  const std::size_t from = output.find(begin);
  const std::size_t to = output.find(end, from == std::string::npos ? 0 : from);
  if (from == std::string::npos || to == std::string::npos) return "";
  return output.substr(from, to + end.size() - from) + "\n";
}

// ---- tls --------------------------------------------------------------------------------------------

TEST_F(TlsInterpreter, TlsLetsOpensslReqWriteACertificateTheHostReads) {
  if (!on_host(kOpenssl)) GTEST_SKIP() << kOpenssl << " is not installed";
  const std::string root = root_with("openssl", {kOpenssl});
  const ProcessResult made = run_in(root, kOpensslReq);
  EXPECT_EQ(made.exit_code, 0) << made.describe();
  // The oracle: the host's openssl reads the certificate the jail wrote.
  const std::string certificate = dir_ + "/openssl-cert.pem";
  std::ofstream(certificate) << pem_certificate(made.output);
  const ProcessResult subject = run_process({kOpenssl, "x509", "-in", certificate, "-noout", "-subject"}, kPlainEnv);
  EXPECT_EQ(subject.output, "subject=CN = x\n") << made.describe();

  // What came: the configuration and the CA store with the symlinks on their way; what did not:
  // the host's private keys, and misc/ whose perl scripts would bring perl.
  EXPECT_TRUE(holds(root, "/usr/lib/ssl/openssl.cnf"));
  EXPECT_TRUE(std::filesystem::is_regular_file(root + "/etc/ssl/openssl.cnf"));
  EXPECT_TRUE(std::filesystem::is_symlink(root + "/usr/lib/ssl/certs"));
  EXPECT_TRUE(std::filesystem::is_directory(root + "/etc/ssl/certs"));
  EXPECT_FALSE(holds(root, "/usr/lib/ssl/private"));
  EXPECT_FALSE(holds(root, "/etc/ssl/private"));
  EXPECT_FALSE(holds(root, "/usr/lib/ssl/misc"));
  EXPECT_FALSE(holds(root, "/usr/bin/perl"));
  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed, "rule tls: ")) << listed;
  EXPECT_TRUE(contains(listed, "(OPENSSLDIR /usr/lib/ssl) is in the closure of /usr/bin/openssl")) << listed;
}

TEST_F(TlsInterpreter, WithoutTlsOpensslReqCannotOpenItsConfiguration) {
  if (!on_host(kOpenssl)) GTEST_SKIP() << kOpenssl << " is not installed";
  const std::string root = root_with("openssl-off", {kOpenssl}, {"--without", "tls"});
  const ProcessResult made = run_in(root, kOpensslReq);
  EXPECT_NE(made.exit_code, 0) << made.describe();
  EXPECT_TRUE(contains(made.output, "Can't open \"/usr/lib/ssl/openssl.cnf\" for reading")) << made.describe();
  EXPECT_EQ(pem_certificate(made.output), "");
  EXPECT_FALSE(holds(root, "/usr/lib/ssl"));
}

// `openssl verify` of a root CA finds it in the default store (cert.pem and the hashed certs/
// directory): the CA store works, not only the configuration. The certificate is added to both
// roots as the data to check.
TEST_F(TlsInterpreter, TlsGivesOpensslVerifyTheHostsCaStore) {
  if (!on_host(kOpenssl)) GTEST_SKIP() << kOpenssl << " is not installed";
  const std::string ca = a_host_ca();
  if (ca.empty()) GTEST_SKIP() << "no CA certificate in /etc/ssl/certs (ca-certificates is not installed)";
  const std::string root = root_with("openssl-verify", {kOpenssl, ca});
  const ProcessResult verified = run_in(root, {kOpenssl, "verify", ca});
  EXPECT_EQ(verified.exit_code, 0) << verified.describe();
  EXPECT_EQ(verified.output, ca + ": OK\n");
  // The control: the same certificate, no store.
  const std::string off = root_with("openssl-verify-off", {kOpenssl, ca}, {"--without", "tls"});
  const ProcessResult unverified = run_in(off, {kOpenssl, "verify", ca});
  EXPECT_NE(unverified.exit_code, 0) << unverified.describe();
  EXPECT_TRUE(contains(unverified.output, "verification failed")) << unverified.describe();
}

// ---- interpreter (Python), and tls through Python's _ssl ------------------------------------------

TEST_F(TlsInterpreter, PythonRunsItsStandardLibraryAndTrustsTheHostsCas) {
  if (!on_host(kPython)) GTEST_SKIP() << kPython << " is not installed";
  const std::string root = root_with("python", {kPython});
  const ProcessResult stdlib = run_in(root, {kPython, "-c", kPythonStdlib});
  EXPECT_EQ(stdlib.exit_code, 0) << stdlib.describe();
  const ProcessResult host_stdlib = run_process({kPython, "-c", kPythonStdlib}, kPlainEnv);
  EXPECT_TRUE(contains(host_stdlib.output, "\"sum\": 3")) << host_stdlib.describe();
  EXPECT_EQ(stdlib.output, host_stdlib.output);

  // libssl and libcrypto came with lib-dynload's _ssl and _hashlib, and with them the CA store: as
  // many CAs as on the host.
  const ProcessResult cas = run_in(root, {kPython, "-c", kPythonCaCount});
  const ProcessResult host_cas = run_process({kPython, "-c", kPythonCaCount}, kPlainEnv);
  EXPECT_EQ(cas.exit_code, 0) << cas.describe();
  EXPECT_GT(std::atoi(host_cas.output.c_str()), 0) << host_cas.describe();
  EXPECT_EQ(cas.output, host_cas.output);

  // The standard library only: not the build's config-3.11 directory (its static libpython), not
  // what Debian packages installed besides (dist-packages).
  EXPECT_TRUE(holds(root, "/usr/lib/python3.11/os.py"));
  EXPECT_TRUE(holds(root, "/usr/lib/python3.11/lib-dynload"));
  EXPECT_FALSE(holds(root, "/usr/lib/python3.11/config-3.11-x86_64-linux-gnu"));
  EXPECT_FALSE(holds(root, "/usr/lib/python3/dist-packages"));
  const std::string listed = list_of(root);
  EXPECT_TRUE(contains(listed,
                       "rule interpreter: /usr/bin/python3.11 is Python 3.11, whose standard library is "
                       "/usr/lib/python3.11"))
      << listed;
  // The first module of lib-dynload that links libcrypto (_hashlib, before _ssl).
  EXPECT_TRUE(contains(listed, "(OPENSSLDIR /usr/lib/ssl) is in the closure of /usr/lib/python3.11/lib-dynload/_"))
      << listed;
}

TEST_F(TlsInterpreter, WithoutTlsPythonTrustsNoCa) {
  if (!on_host(kPython)) GTEST_SKIP() << kPython << " is not installed";
  const std::string root = root_with("python-tls-off", {kPython}, {"--without", "tls"});
  const ProcessResult cas = run_in(root, {kPython, "-c", kPythonCaCount});
  // Silently: exit 0, no CA.
  EXPECT_EQ(cas.exit_code, 0) << cas.describe();
  EXPECT_EQ(cas.output, "0\n");
}

TEST_F(TlsInterpreter, WithoutInterpreterPythonCannotStart) {
  if (!on_host(kPython)) GTEST_SKIP() << kPython << " is not installed";
  const std::string root = root_with("python-off", {kPython}, {"--without", "interpreter"});
  const ProcessResult stdlib = run_in(root, {kPython, "-c", kPythonStdlib});
  EXPECT_NE(stdlib.exit_code, 0) << stdlib.describe();
  EXPECT_TRUE(contains(stdlib.output, "No module named 'encodings'")) << stdlib.describe();
  EXPECT_FALSE(holds(root, "/usr/lib/python3.11"));
}

// ---- interpreter (perl) ---------------------------------------------------------------------------

TEST_F(TlsInterpreter, PerlFindsItsModules) {
  if (!on_host(kPerl)) GTEST_SKIP() << kPerl << " is not installed";
  const std::string root = root_with("perl", {kPerl});
  const ProcessResult ran = run_in(root, {kPerl, "-e", kPerlModules});
  EXPECT_EQ(ran.exit_code, 0) << ran.describe();
  EXPECT_EQ(ran.output, "2 $VAR1 = [1]; 2\n");
  EXPECT_EQ(run_process({kPerl, "-e", kPerlModules}, kPlainEnv).output, ran.output);
  // Its @INC's standard directories, not the vendor one (Debian's other perl packages) nor the
  // headers for building XS modules.
  EXPECT_TRUE(holds(root, "/usr/lib/x86_64-linux-gnu/perl-base/strict.pm"));
  EXPECT_TRUE(holds(root, "/usr/share/perl/5.36"));
  EXPECT_FALSE(holds(root, "/usr/share/perl5"));
  EXPECT_FALSE(holds(root, "/usr/lib/x86_64-linux-gnu/perl/5.36.0/CORE"));
  EXPECT_TRUE(contains(list_of(root),
                       "rule interpreter: /usr/bin/perl runs perl, whose directories compiled into "
                       "/usr/bin/perl include /usr/lib/x86_64-linux-gnu/perl-base (with its Config.pm)"));
}

TEST_F(TlsInterpreter, WithoutInterpreterPerlCannotLocatePosix) {
  if (!on_host(kPerl)) GTEST_SKIP() << kPerl << " is not installed";
  const std::string root = root_with("perl-off", {kPerl}, {"--without", "interpreter"});
  const ProcessResult ran = run_in(root, {kPerl, "-e", kPerlModules});
  EXPECT_NE(ran.exit_code, 0) << ran.describe();
  EXPECT_TRUE(contains(ran.output, "Can't locate strict.pm in @INC")) << ran.describe();
}

// ---- interpreter (ruby) ---------------------------------------------------------------------------

// json is a default gem of ruby 3.1: in rubylibdir (/usr/lib/ruby/3.1.0), its C parser in
// rubyarchdir, which holds rbconfig.rb.
const std::string kRubyJson = "require 'json'; puts JSON.generate({'a' => [1, 2]})";

TEST_F(TlsInterpreter, RubyRequiresJson) {
  if (!on_host(kRuby)) GTEST_SKIP() << kRuby << " is not installed (scripts/install-deps.sh --test installs it)";
  const std::string root = root_with("ruby", {kRuby});
  const ProcessResult ran = run_in(root, {kRuby, "-e", kRubyJson});
  EXPECT_EQ(ran.exit_code, 0) << ran.describe();
  EXPECT_EQ(ran.output, "{\"a\":[1,2]}\n");
  EXPECT_TRUE(contains(list_of(root), "(with its rbconfig.rb)"));
  const std::string off = root_with("ruby-off", {kRuby}, {"--without", "interpreter"});
  const ProcessResult failed = run_in(off, {kRuby, "-e", kRubyJson});
  EXPECT_NE(failed.exit_code, 0) << failed.describe();
  EXPECT_FALSE(contains(failed.output, "{\"a\":[1,2]}")) << failed.describe();
}

}  // namespace
}  // namespace jailbuild
