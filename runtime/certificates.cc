#include "runtime/certificates.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace gorl::runtime {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

absl::Status OpenSslError(const std::string& what) {
  const auto code = ERR_get_error();
  ERR_clear_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  return absl::InternalError(absl::StrCat(what, ": ", text));
}

absl::StatusOr<Ptr<EVP_PKEY>> NewKey() {
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("cannot make an EC key");
  return key;
}

std::string ToPem(EVP_PKEY* key) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const auto size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

std::string ToPem(X509* cert) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const auto size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

// A certificate for `key` named `common_name`, with a random serial, to be
// signed by the caller.
absl::StatusOr<Ptr<X509>> NewCertificate(EVP_PKEY* key, const std::string& common_name,
                                         absl::Time not_before, absl::Time not_after) {
  Ptr<X509> cert(X509_new());
  if (cert == nullptr) return OpenSslError("cannot make a certificate");
  X509_set_version(cert.get(), 2);  // v3
  std::array<unsigned char, 16> serial;
  if (RAND_bytes(serial.data(), serial.size()) != 1) return OpenSslError("no randomness");
  serial[0] &= 0x7f;  // positive
  BIGNUM* number = BN_bin2bn(serial.data(), serial.size(), nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert.get()));
  BN_free(number);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("gorl"), -1, -1, 0);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return OpenSslError(absl::StrCat("bad common name '", common_name, "'"));
  }
  return cert;
}

absl::StatusOr<Ptr<X509>> ReadCert(const std::string& pem) {
  Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Ptr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return OpenSslError("cannot read the CA certificate");
  return cert;
}

absl::StatusOr<Ptr<EVP_PKEY>> ReadKey(const std::string& pem) {
  Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Ptr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return OpenSslError("cannot read the CA key");
  return key;
}

bool IsIpAddress(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  ERR_clear_error();
  if (ip == nullptr) return false;
  ASN1_OCTET_STRING_free(ip);
  return true;
}

}  // namespace

absl::StatusOr<KeyAndCert> MakeCertificateAuthority(const std::string& common_name,
                                                    absl::Time not_before, absl::Time not_after) {
  GORL_ASSIGN_OR_RETURN(Ptr<EVP_PKEY> key, NewKey());
  GORL_ASSIGN_OR_RETURN(Ptr<X509> cert,
                        NewCertificate(key.get(), common_name, not_before, not_after));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  GORL_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  GORL_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  GORL_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return OpenSslError("cannot sign");
  return KeyAndCert{ToPem(key.get()), ToPem(cert.get())};
}

absl::StatusOr<KeyAndCert> IssueCertificate(const KeyAndCert& ca,
                                            const CertificateRequest& request) {
  GORL_ASSIGN_OR_RETURN(Ptr<X509> ca_cert, ReadCert(ca.cert_pem));
  GORL_ASSIGN_OR_RETURN(Ptr<EVP_PKEY> ca_key, ReadKey(ca.key_pem));
  GORL_ASSIGN_OR_RETURN(Ptr<EVP_PKEY> key, NewKey());
  GORL_ASSIGN_OR_RETURN(Ptr<X509> cert, NewCertificate(key.get(), request.common_name,
                                                       request.not_before, request.not_after));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  GORL_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  GORL_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  GORL_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                                    request.server ? "serverAuth,clientAuth" : "clientAuth"));
  GORL_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  std::vector<std::string> names;
  for (const std::string& host : request.hosts) {
    names.push_back(absl::StrCat(IsIpAddress(host) ? "IP:" : "DNS:", host));
  }
  if (!names.empty()) {
    GORL_RETURN_IF_ERROR(
        AddExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, absl::StrJoin(names, ",")));
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) return OpenSslError("cannot sign");
  return KeyAndCert{ToPem(key.get()), ToPem(cert.get())};
}

absl::StatusOr<std::string> NewRunToken(const std::string& id) {
  std::array<unsigned char, 32> secret;
  if (RAND_bytes(secret.data(), secret.size()) != 1) return OpenSslError("no randomness");
  return absl::StrCat(id, ".",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(secret.data()), secret.size())));
}

absl::Status WriteSecretFile(const std::string& path, const std::string& text, bool overwrite) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  // An existing file keeps its mode under O_TRUNC: make it private too.
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t written = 0;
  while (ok && written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status WriteRunCredentials(const RunCredentialsOptions& options) {
  namespace fs = std::filesystem;
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out: no directory given");
  if (options.days <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--days must be positive, not ", options.days));
  }
  if (options.hosts.empty()) return absl::InvalidArgumentError("--hosts: no host given");
  std::vector<std::string> files = {"ca.pem", "ca.key", "server.pem", "server.key", "token"};
  for (const std::string& client : options.clients) {
    if (client.empty() || client == "ca" || client == "server" ||
        client.find_first_of("/. ") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--clients: '", client,
                       "' is not a usable name (no '/', '.' or space; not ca or server)"));
    }
    files.push_back(client + ".pem");
    files.push_back(client + ".key");
  }
  std::error_code error;
  fs::create_directories(options.out_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", options.out_dir, ": ", error.message()));
  }
  if (::chmod(options.out_dir.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make ", options.out_dir, " private: ", std::strerror(errno)));
  }
  if (!options.force) {
    for (const std::string& file : files) {
      if (fs::exists(fs::path(options.out_dir) / file)) {
        return absl::FailedPreconditionError(absl::StrCat(
            options.out_dir, "/", file, " exists; pass --force to replace the credentials there"));
      }
    }
  }
  const absl::Time now = absl::Now();
  // A minute of slack: a peer whose clock is slightly behind still accepts.
  const absl::Time not_before = now - absl::Minutes(1);
  const absl::Time not_after = now + absl::Hours(24) * options.days;
  GORL_ASSIGN_OR_RETURN(const KeyAndCert ca,
                        MakeCertificateAuthority("gorl run CA", not_before, not_after));
  std::vector<std::pair<std::string, std::string>> out = {{"ca.pem", ca.cert_pem},
                                                          {"ca.key", ca.key_pem}};
  GORL_ASSIGN_OR_RETURN(
      const KeyAndCert server,
      IssueCertificate(ca, {options.hosts.front(), options.hosts, true, not_before, not_after}));
  out.push_back({"server.pem", server.cert_pem});
  out.push_back({"server.key", server.key_pem});
  for (const std::string& client : options.clients) {
    GORL_ASSIGN_OR_RETURN(const KeyAndCert issued,
                          IssueCertificate(ca, {client, {}, false, not_before, not_after}));
    out.push_back({client + ".pem", issued.cert_pem});
    out.push_back({client + ".key", issued.key_pem});
  }
  GORL_ASSIGN_OR_RETURN(const std::string token, NewRunToken("run"));
  out.push_back({"token", token + "\n"});
  for (const auto& [file, text] : out) {
    GORL_RETURN_IF_ERROR(WriteSecretFile(absl::StrCat(options.out_dir, "/", file), text, true));
  }
  return absl::OkStatus();
}

}  // namespace gorl::runtime
