#include "provenance/cose.hpp"

#include "core/error.hpp"

namespace opsis::provenance::cose {
namespace {

[[noreturn]] void fail(const std::string& message) { throw InvalidArgument("cose", message); }

// Sig_structure = ["Signature1", body_protected, external_aad, payload] (RFC 9052 §4.4).
Bytes signature_input(const Bytes& protected_bytes, std::span<const uint8_t> payload) {
  cbor::Value structure = cbor::Value::array();
  structure.push("Signature1");
  structure.push(protected_bytes);
  structure.push(cbor::Bytes{});
  structure.push(cbor::Bytes(payload.begin(), payload.end()));
  return cbor::encode(structure);
}

const cbor::Value* find_int_key(const cbor::Value& map, int64_t key) {
  if (!map.is_map()) return nullptr;
  for (const auto& [k, v] : map.as_map()) {
    if (k.is_int() && k.as_int() == key) return &v;
  }
  return nullptr;
}

std::vector<Bytes> read_x5chain(const cbor::Value& value) {
  std::vector<Bytes> chain;
  if (value.is_bytes()) {
    chain.push_back(value.as_bytes());
  } else {
    for (const cbor::Value& item : value.as_array()) chain.push_back(item.as_bytes());
  }
  if (chain.empty()) fail("x5chain is empty");
  return chain;
}

}  // namespace

Bytes sign1_es256(std::span<const uint8_t> payload, const SigningCredentials& credentials) {
  const auto& chain = credentials.chain_der();
  if (chain.empty()) fail("no certificate to sign with");
  cbor::Value header = cbor::Value::map();
  header.set_any(cbor::Value(kAlgorithmLabel), cbor::Value(kEs256));
  // RFC 9360: one certificate is a byte string, several an array of them.
  if (chain.size() == 1) {
    header.set_any(cbor::Value(kX5ChainLabel), cbor::Value(chain.front()));
  } else {
    cbor::Value array = cbor::Value::array();
    for (const Bytes& der : chain) array.push(der);
    header.set_any(cbor::Value(kX5ChainLabel), std::move(array));
  }
  const Bytes protected_bytes = cbor::encode(header);
  const Bytes signature = credentials.sign_es256(signature_input(protected_bytes, payload));

  cbor::Value message = cbor::Value::array();
  message.push(protected_bytes);
  message.push(cbor::Value::map());
  message.push(nullptr);  // detached payload
  message.push(signature);
  return cbor::encode(cbor::Value::tagged(kSign1Tag, std::move(message)));
}

Sign1 parse_sign1(std::span<const uint8_t> data) {
  cbor::Value value = cbor::decode(data);
  if (value.is_tagged()) {
    if (value.as_tagged().tag != kSign1Tag) fail("not a COSE_Sign1 (tag " + std::to_string(value.as_tagged().tag) + ")");
    cbor::Value inner = *value.as_tagged().value;
    value = std::move(inner);
  }
  const cbor::Array& parts = value.as_array();
  if (parts.size() != 4) fail("COSE_Sign1 must have 4 parts");
  Sign1 sign1;
  sign1.protected_bytes = parts[0].as_bytes();
  sign1.protected_header = sign1.protected_bytes.empty() ? cbor::Value::map() : cbor::decode(sign1.protected_bytes);
  sign1.unprotected_header = parts[1];
  sign1.signature = parts[3].as_bytes();
  if (const cbor::Value* alg = find_int_key(sign1.protected_header, kAlgorithmLabel)) {
    sign1.algorithm = alg->as_int();
  } else {
    fail("COSE_Sign1 protected header has no algorithm");
  }
  if (const cbor::Value* x5 = find_int_key(sign1.protected_header, kX5ChainLabel)) {
    sign1.x5chain = read_x5chain(*x5);
  } else if (const cbor::Value* ux5 = find_int_key(sign1.unprotected_header, kX5ChainLabel)) {
    sign1.x5chain = read_x5chain(*ux5);
  } else if (const cbor::Value* named = sign1.unprotected_header.find("x5chain")) {
    sign1.x5chain = read_x5chain(*named);  // C2PA 1.x placed it here under a text label
  } else {
    fail("COSE_Sign1 carries no certificate chain (x5chain)");
  }
  return sign1;
}

bool verify_sign1(const Sign1& sign1, std::span<const uint8_t> payload) {
  if (sign1.algorithm != kEs256 || sign1.x5chain.empty()) return false;
  return verify_es256(sign1.x5chain.front(), signature_input(sign1.protected_bytes, payload),
                      sign1.signature);
}

}  // namespace opsis::provenance::cose
