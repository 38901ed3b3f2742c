// Transport security over real gRPC on loopback: TLS, mutual TLS, the run
// token, the credentials `gorl certs` writes, and the refusals a server
// counts (gorl_auth_failures_total).
#include "runtime/transport_security.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/metrics.h"
#include "gorl/v1/services.grpc.pb.h"
#include "runtime/certificates.h"
#include "runtime/grpc_util.h"
#include "tests/status_matchers.h"
#include "tests/test_files.h"

namespace gorl::runtime {
namespace {

using ::gorl::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// A Learner whose Join answers with the identity the server saw.
class IdentityEcho final : public v1::Learner::Service {
 public:
  grpc::Status Join(grpc::ServerContext* context, const v1::JoinRequest* /*request*/,
                    v1::JoinReply* reply) override {
    reply->set_actor_id(PeerIdentity(*context));
    return grpc::Status::OK;
  }
};

// The credentials of one run (as `gorl certs` writes them) and of a second,
// unrelated run.
class TransportSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_files::MakeTempDir("tls");
    RunCredentialsOptions run;
    run.out_dir = dir_ + "/run";
    run.clients = {"actor-0"};
    GORL_ASSERT_OK(WriteRunCredentials(run));
    RunCredentialsOptions other = run;
    other.out_dir = dir_ + "/other";
    GORL_ASSERT_OK(WriteRunCredentials(other));
    // Counted here, scraped from a real exporter in secure_roles_test.cc.
    metrics_ = RoleMetrics::Unserved("learner", "");
  }

  std::string Run(const std::string& file) const { return dir_ + "/run/" + file; }
  std::string Other(const std::string& file) const { return dir_ + "/other/" + file; }

  // The server's flags: this run's server certificate, and its token.
  TransportSecurityFlags ServerFlags(bool mtls, bool token) const {
    TransportSecurityFlags flags;
    flags.tls_ca = Run("ca.pem");
    flags.tls_cert = Run("server.pem");
    flags.tls_key = Run("server.key");
    flags.mtls = mtls;
    if (token) flags.token_file = Run("token");
    return flags;
  }

  // An actor's flags: trusts this run's CA, with actor-0's certificate.
  TransportSecurityFlags ActorFlags(bool token) const {
    TransportSecurityFlags flags;
    flags.tls_ca = Run("ca.pem");
    flags.tls_cert = Run("actor-0.pem");
    flags.tls_key = Run("actor-0.key");
    if (token) flags.token_file = Run("token");
    return flags;
  }

  void Serve(const TransportSecurityFlags& flags) {
    absl::StatusOr<TransportSecurity> security = LoadTransportSecurity(flags);
    GORL_ASSERT_OK(security.status());
    ServerOptions options;
    options.security = *security;
    options.metrics = metrics_.get();
    absl::StatusOr<std::unique_ptr<grpc::Server>> server =
        StartServer("127.0.0.1:0", {&service_}, options, &address_);
    GORL_ASSERT_OK(server.status());
    server_ = *std::move(server);
  }

  // One Join with `security`; the identity the server saw, or the error.
  absl::StatusOr<std::string> Call(const TransportSecurity& security) {
    absl::StatusOr<ClientCredentials> credentials = ChannelCredentialsFor(address_, security);
    if (!credentials.ok()) return credentials.status();
    // The server certificate names localhost and 127.0.0.1; the test
    // dials 127.0.0.1.
    std::unique_ptr<v1::Learner::Stub> stub =
        v1::Learner::NewStub(MakeChannel(address_, *credentials));
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(std::chrono::seconds(20)));
    v1::JoinRequest request;
    v1::JoinReply reply;
    const grpc::Status status = stub->Join(&context, request, &reply);
    if (!status.ok()) return FromGrpcStatus(status);
    return reply.actor_id();
  }
  absl::StatusOr<std::string> Call(const TransportSecurityFlags& flags) {
    absl::StatusOr<TransportSecurity> security = LoadTransportSecurity(flags);
    if (!security.ok()) return security.status();
    return Call(*security);
  }

  double Failures(const std::string& reason) const { return metrics_->AuthFailures(reason); }

  std::string dir_;
  std::unique_ptr<RoleMetrics> metrics_;
  IdentityEcho service_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(TransportSecurityTest, ValidCertificateAndTokenServeTheCallAndNameTheActor) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  const absl::StatusOr<std::string> identity = Call(ActorFlags(/*token=*/true));
  GORL_ASSERT_OK(identity.status());
  EXPECT_EQ(*identity, "actor-0");  // the certificate's CN
  EXPECT_EQ(Failures("wrong_token") + Failures("missing_token") + Failures("bad_client_cert") +
                Failures("no_client_cert"),
            0.0);
}

TEST_F(TransportSecurityTest, WithoutMtlsTheTokenIdNamesThePeer) {
  Serve(ServerFlags(/*mtls=*/false, /*token=*/true));
  TransportSecurityFlags flags;
  flags.tls_ca = Run("ca.pem");
  flags.token_file = Run("token");
  EXPECT_THAT(Call(flags), gorl::testing::IsOkAndHolds(std::string("token:run")));
}

TEST_F(TransportSecurityTest, PlaintextClientToATlsServerIsUnavailable) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  EXPECT_THAT(Call(TransportSecurity::Insecure()), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TransportSecurityTest, ServerCertificateFromAnotherCaIsRefusedByTheClient) {
  Serve(ServerFlags(/*mtls=*/false, /*token=*/false));
  TransportSecurityFlags flags;
  flags.tls_ca = Other("ca.pem");  // trusts another run's CA only
  EXPECT_THAT(Call(flags), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(TransportSecurityTest, MissingTokenIsUnauthenticatedAndCounted) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  EXPECT_THAT(Call(ActorFlags(/*token=*/false)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("token")));
  EXPECT_EQ(Failures("missing_token"), 1.0);
}

TEST_F(TransportSecurityTest, WrongTokenIsUnauthenticatedAndCountedEachTime) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  TransportSecurityFlags flags = ActorFlags(/*token=*/true);
  flags.token_file = Other("token");  // same id "run", another secret
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(Call(flags), StatusIs(absl::StatusCode::kUnauthenticated));
  }
  EXPECT_EQ(Failures("wrong_token"), 3.0);
}

TEST_F(TransportSecurityTest, ClientCertificateFromAnotherCaIsRefusedAndCounted) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  TransportSecurityFlags flags = ActorFlags(/*token=*/true);
  flags.tls_cert = Other("actor-0.pem");
  flags.tls_key = Other("actor-0.key");
  EXPECT_THAT(Call(flags), StatusIs(absl::StatusCode::kUnauthenticated,
                                    HasSubstr("client certificate refused")));
  EXPECT_EQ(Failures("bad_client_cert"), 1.0);
}

TEST_F(TransportSecurityTest, ExpiredClientCertificateIsRefusedAndCounted) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  // Signed by the run's own CA, but its validity ended yesterday.
  const KeyAndCert ca{test_files::ReadFile(Run("ca.key")), test_files::ReadFile(Run("ca.pem"))};
  const absl::Time now = absl::Now();
  absl::StatusOr<KeyAndCert> expired =
      IssueCertificate(ca, {"actor-old", {}, false, now - absl::Hours(48), now - absl::Hours(24)});
  GORL_ASSERT_OK(expired.status());
  GORL_ASSERT_OK(WriteSecretFile(dir_ + "/old.pem", expired->cert_pem, false));
  GORL_ASSERT_OK(WriteSecretFile(dir_ + "/old.key", expired->key_pem, false));
  TransportSecurityFlags flags = ActorFlags(/*token=*/true);
  flags.tls_cert = dir_ + "/old.pem";
  flags.tls_key = dir_ + "/old.key";
  EXPECT_THAT(Call(flags), StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
  EXPECT_EQ(Failures("bad_client_cert"), 1.0);
}

TEST_F(TransportSecurityTest, NoClientCertificateUnderMtlsIsRefusedAndCounted) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  TransportSecurityFlags flags;
  flags.tls_ca = Run("ca.pem");
  flags.token_file = Run("token");
  EXPECT_THAT(Call(flags), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Failures("no_client_cert"), 1.0);
}

TEST_F(TransportSecurityTest, TcpListenerWithoutTlsIsRefusedUnlessInsecure) {
  std::string address;
  EXPECT_THAT(StartServer("127.0.0.1:0", {&service_}, ServerOptions{}, &address),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--insecure")));
  ServerOptions insecure;
  insecure.security = TransportSecurity::Insecure();
  GORL_EXPECT_OK(StartServer("127.0.0.1:0", {&service_}, insecure, &address).status());
  // A Unix socket needs neither.
  GORL_EXPECT_OK(
      StartServer(absl::StrCat("unix:", dir_, "/s.sock"), {&service_}, ServerOptions{}, &address)
          .status());
  // Nor may a client dial plaintext TCP without saying so.
  EXPECT_THAT(ChannelCredentialsFor("127.0.0.1:1", TransportSecurity{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A TCP peer that connects and never speaks is dropped after the handshake
// timeout (gRPC's default would hold the socket for 2 minutes).
TEST_F(TransportSecurityTest, ASilentTcpPeerIsDroppedAfterTheHandshakeTimeout) {
  Serve(ServerFlags(/*mtls=*/true, /*token=*/true));
  const int port = std::stoi(address_.substr(address_.rfind(':') + 1));
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  // Generous: the limit is 10 s; a busy CI machine may take longer to act.
  timeval wait{60, 0};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)), 0);
  char byte;
  const ssize_t got = recv(fd, &byte, 1, 0);
  const int error = errno;
  close(fd);
  // 0: the server closed the connection (a timeout would be -1 / EAGAIN).
  EXPECT_EQ(got, 0) << "recv errno " << error;
}

TEST_F(TransportSecurityTest, BadFlagsAreUsageErrorsThatNameTheFlag) {
  TransportSecurityFlags flags = ServerFlags(true, true);
  flags.tls_key = Other("server.key");  // not this certificate's key
  EXPECT_THAT(LoadTransportSecurity(flags),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_key")));
  flags = ServerFlags(true, true);
  flags.insecure = true;
  EXPECT_THAT(LoadTransportSecurity(flags), StatusIs(absl::StatusCode::kInvalidArgument));
  flags = ServerFlags(true, true);
  flags.tls_ca = dir_ + "/missing.pem";
  EXPECT_THAT(LoadTransportSecurity(flags),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--tls_ca")));
  flags = ServerFlags(true, false);
  flags.token_file = Run("ca.pem");  // not a token
  EXPECT_THAT(LoadTransportSecurity(flags), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RunTokenTest, ParsesIdAndSecretAndRefusesMalformedOnes) {
  const absl::StatusOr<RunToken> token = ParseRunToken("actor-3.0123456789abcdef0123");
  GORL_ASSERT_OK(token.status());
  EXPECT_EQ(token->id, "actor-3");
  EXPECT_EQ(token->secret, "0123456789abcdef0123");
  for (const char* bad : {"nodot", ".0123456789abcdef0123", "id.short", "i d.0123456789abcdef0123",
                          "id.0123456789abcdef012!"}) {
    EXPECT_THAT(ParseRunToken(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  // The error never echoes the secret.
  EXPECT_THAT(ParseRunToken("id.secret!secret!secret"),
              StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("secret!"))));
}

// What `gorl certs` writes: private files, certificates that chain to the
// CA, and the server certificate valid for the hosts asked for.
TEST(RunCredentialsTest, FilesArePrivateAndCertificatesVerifyWithTheirSans) {
  const std::string dir = test_files::MakeTempDir("certs") + "/tls";
  RunCredentialsOptions options;
  options.out_dir = dir;
  options.hosts = {"learner.lan", "10.1.2.3"};
  options.clients = {"a0", "a1"};
  options.days = 7;
  GORL_ASSERT_OK(WriteRunCredentials(options));

  struct stat info;
  ASSERT_EQ(stat(dir.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  for (const char* file : {"ca.pem", "ca.key", "server.pem", "server.key", "a0.pem", "a0.key",
                           "a1.pem", "a1.key", "token"}) {
    ASSERT_EQ(stat((dir + "/" + file).c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
  GORL_EXPECT_OK(
      ParseRunToken(std::string(absl::StripAsciiWhitespace(test_files::ReadFile(dir + "/token"))))
          .status());

  auto read_cert = [](const std::string& path) {
    const std::string pem = test_files::ReadFile(path);
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return cert;
  };
  X509* ca = read_cert(dir + "/ca.pem");
  ASSERT_NE(ca, nullptr);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  for (const char* name : {"server.pem", "a0.pem", "a1.pem"}) {
    X509* cert = read_cert(dir + "/" + name);
    ASSERT_NE(cert, nullptr) << name;
    X509_STORE_CTX* context = X509_STORE_CTX_new();
    X509_STORE_CTX_init(context, store, cert, nullptr);
    EXPECT_EQ(X509_verify_cert(context), 1)
        << name << ": " << X509_verify_cert_error_string(X509_STORE_CTX_get_error(context));
    X509_STORE_CTX_free(context);
    if (std::string(name) == "server.pem") {
      EXPECT_EQ(X509_check_host(cert, "learner.lan", 0, 0, nullptr), 1);
      EXPECT_EQ(X509_check_ip_asc(cert, "10.1.2.3", 0), 1);
      EXPECT_NE(X509_check_host(cert, "elsewhere.lan", 0, 0, nullptr), 1);
    }
    X509_free(cert);
  }
  X509_STORE_free(store);
  X509_free(ca);

  // A second call does not replace them without force.
  EXPECT_THAT(WriteRunCredentials(options), StatusIs(absl::StatusCode::kFailedPrecondition));
  const std::string token = test_files::ReadFile(dir + "/token");
  options.force = true;
  GORL_EXPECT_OK(WriteRunCredentials(options));
  EXPECT_NE(test_files::ReadFile(dir + "/token"), token);
}

}  // namespace
}  // namespace gorl::runtime
