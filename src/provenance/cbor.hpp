#pragma once
// A small CBOR (RFC 8949) value with an encoder and a decoder, enough for C2PA manifests:
// integers, byte and text strings, arrays, maps that keep insertion order (the encoding
// must be reproduced byte for byte when hashes cover it), tags, booleans, null and floats.
// Encoding always uses the shortest head; decoding rejects indefinite lengths it does not
// need and anything truncated.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace opsis::provenance::cbor {

using Bytes = std::vector<uint8_t>;

class Value;
using Array = std::vector<Value>;
using Map = std::vector<std::pair<Value, Value>>;  // insertion order kept

struct Null {
  bool operator==(const Null&) const = default;
};

struct Tagged {
  uint64_t tag = 0;
  std::shared_ptr<Value> value;  // never null after construction through Value::tagged
  bool operator==(const Tagged& other) const;
};

class Value {
 public:
  // int64 for negatives and small positives; uint64 for positives above INT64_MAX.
  using Storage =
      std::variant<Null, bool, int64_t, uint64_t, double, Bytes, std::string, Array, Map, Tagged>;

  Value() : storage_(Null{}) {}
  Value(std::nullptr_t) : storage_(Null{}) {}
  Value(bool b) : storage_(b) {}
  Value(int i) : storage_(int64_t(i)) {}
  Value(int64_t i) : storage_(i) {}
  Value(uint64_t u);
  Value(double d) : storage_(d) {}
  Value(Bytes b) : storage_(std::move(b)) {}
  Value(std::string s) : storage_(std::move(s)) {}
  Value(const char* s) : storage_(std::string(s)) {}
  Value(Array a) : storage_(std::move(a)) {}
  Value(Map m) : storage_(std::move(m)) {}
  static Value tagged(uint64_t tag, Value inner);
  static Value map() { return Value(Map{}); }
  static Value array() { return Value(Array{}); }

  bool is_null() const { return std::holds_alternative<Null>(storage_); }
  bool is_bool() const { return std::holds_alternative<bool>(storage_); }
  bool is_int() const { return std::holds_alternative<int64_t>(storage_) || std::holds_alternative<uint64_t>(storage_); }
  bool is_bytes() const { return std::holds_alternative<Bytes>(storage_); }
  bool is_text() const { return std::holds_alternative<std::string>(storage_); }
  bool is_array() const { return std::holds_alternative<Array>(storage_); }
  bool is_map() const { return std::holds_alternative<Map>(storage_); }
  bool is_tagged() const { return std::holds_alternative<Tagged>(storage_); }

  // Accessors throw opsis::InvalidArgument("cbor", ...) on a type mismatch.
  bool as_bool() const;
  int64_t as_int() const;
  const Bytes& as_bytes() const;
  const std::string& as_text() const;
  const Array& as_array() const;
  Array& as_array();
  const Map& as_map() const;
  Map& as_map();
  const Tagged& as_tagged() const;

  // Map helpers for text keys. set() replaces an existing key in place or appends.
  Value& set(const std::string& key, Value value);
  // Any key (COSE headers use integer keys): replaces an equal key in place or appends.
  Value& set_any(const Value& key, Value value);
  const Value* find(const std::string& key) const;
  Value* find(const std::string& key);
  const Value& at(const std::string& key) const;  // throws when missing
  // Array helper.
  Value& push(Value value);

  const Storage& storage() const { return storage_; }
  bool operator==(const Value& other) const;

 private:
  Storage storage_;
};

Bytes encode(const Value& value);
void encode_to(const Value& value, Bytes& out);

// Decodes exactly one item that must span all of `data`.
Value decode(std::span<const uint8_t> data);
// Decodes one item from the front of `data`; `consumed` receives its encoded length.
Value decode_prefix(std::span<const uint8_t> data, size_t& consumed);

// Head of a byte string of `length` bytes: its size (1, 2, 3, 5 or 9 bytes).
size_t byte_string_head_size(uint64_t length);

// JSON rendering for reports and `opsis verify`: byte strings become lowercase hex, tags
// become {"tag": n, "value": ...}, non-text map keys are rendered as text.
nlohmann::json to_json(const Value& value);

}  // namespace opsis::provenance::cbor
