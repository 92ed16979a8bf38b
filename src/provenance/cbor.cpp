#include "provenance/cbor.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace opsis::provenance::cbor {
namespace {

[[noreturn]] void fail(const std::string& message) { throw InvalidArgument("cbor", message); }

enum Major : uint8_t {
  kUnsigned = 0,
  kNegative = 1,
  kBytes = 2,
  kText = 3,
  kArray = 4,
  kMap = 5,
  kTag = 6,
  kSimple = 7,
};

void put_head(Bytes& out, uint8_t major, uint64_t argument) {
  const uint8_t m = uint8_t(major << 5);
  if (argument < 24) {
    out.push_back(uint8_t(m | argument));
  } else if (argument <= 0xff) {
    out.push_back(m | 24);
    out.push_back(uint8_t(argument));
  } else if (argument <= 0xffff) {
    out.push_back(m | 25);
    for (int shift = 8; shift >= 0; shift -= 8) out.push_back(uint8_t(argument >> shift));
  } else if (argument <= 0xffffffffULL) {
    out.push_back(m | 26);
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(argument >> shift));
  } else {
    out.push_back(m | 27);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(uint8_t(argument >> shift));
  }
}

struct Reader {
  static constexpr uint64_t kMaxReserve = 1024;
  std::span<const uint8_t> data;
  size_t pos = 0;
  int depth = 0;

  uint8_t byte() {
    if (pos >= data.size()) fail("truncated CBOR item");
    return data[pos++];
  }
  uint64_t big_endian(int count) {
    uint64_t v = 0;
    for (int i = 0; i < count; ++i) v = (v << 8) | byte();
    return v;
  }
  uint64_t argument(uint8_t info) {
    if (info < 24) return info;
    switch (info) {
      case 24: return big_endian(1);
      case 25: return big_endian(2);
      case 26: return big_endian(4);
      case 27: return big_endian(8);
      default: fail("indefinite-length or reserved CBOR item is not supported");
    }
  }
  std::span<const uint8_t> take(uint64_t length) {
    if (length > data.size() - pos) fail("CBOR string runs past the end of the data");
    auto s = data.subspan(pos, size_t(length));
    pos += size_t(length);
    return s;
  }

  // A claimed length is only bounded by the bytes left, and nested heads each claim that much
  // again (100 nested 1M-element heads in 1 MB would reserve ~100M values of address space):
  // reserve at most kMaxReserve up front and let the vector grow as elements are really read.
  size_t initial_reserve(uint64_t claimed) const {
    return size_t(std::min<uint64_t>({claimed, data.size() - pos, kMaxReserve}));
  }

  Value item() {
    if (++depth > 128) fail("CBOR nesting deeper than 128");
    const uint8_t initial = byte();
    const uint8_t major = initial >> 5;
    const uint8_t info = initial & 0x1f;
    Value result;
    switch (major) {
      case kUnsigned: result = Value(argument(info)); break;
      case kNegative: {
        const uint64_t n = argument(info);
        if (n > uint64_t(std::numeric_limits<int64_t>::max())) fail("CBOR negative integer out of range");
        result = Value(int64_t(-1) - int64_t(n));
        break;
      }
      case kBytes: {
        auto s = take(argument(info));
        result = Value(Bytes(s.begin(), s.end()));
        break;
      }
      case kText: {
        auto s = take(argument(info));
        result = Value(std::string(s.begin(), s.end()));
        break;
      }
      case kArray: {
        const uint64_t n = argument(info);
        if (n > data.size() - pos) fail("CBOR array longer than the data");
        Array a;
        a.reserve(initial_reserve(n));  // grows as items are really read
        for (uint64_t i = 0; i < n; ++i) a.push_back(item());
        result = Value(std::move(a));
        break;
      }
      case kMap: {
        const uint64_t n = argument(info);
        if (n > (data.size() - pos) / 2) fail("CBOR map longer than the data");
        Map m;
        m.reserve(initial_reserve(n));
        for (uint64_t i = 0; i < n; ++i) {
          Value key = item();
          Value value = item();
          m.emplace_back(std::move(key), std::move(value));
        }
        result = Value(std::move(m));
        break;
      }
      case kTag: {
        const uint64_t tag = argument(info);
        result = Value::tagged(tag, item());
        break;
      }
      default: {  // simple values and floats
        if (info == 20) result = Value(false);
        else if (info == 21) result = Value(true);
        else if (info == 22 || info == 23) result = Value(nullptr);
        else if (info == 25) {
          const uint16_t h = uint16_t(big_endian(2));
          const int exponent = (h >> 10) & 0x1f;
          const int mantissa = h & 0x3ff;
          double v;
          if (exponent == 0) v = std::ldexp(mantissa, -24);
          else if (exponent != 31) v = std::ldexp(mantissa + 1024, exponent - 25);
          else v = mantissa == 0 ? std::numeric_limits<double>::infinity() : std::nan("");
          result = Value((h & 0x8000) ? -v : v);
        } else if (info == 26) {
          result = Value(double(std::bit_cast<float>(uint32_t(big_endian(4)))));
        } else if (info == 27) {
          result = Value(std::bit_cast<double>(big_endian(8)));
        } else {
          fail("unsupported CBOR simple value");
        }
      }
    }
    --depth;
    return result;
  }
};

std::string hex(const Bytes& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

}  // namespace

Value::Value(uint64_t u) {
  if (u <= uint64_t(std::numeric_limits<int64_t>::max())) storage_ = int64_t(u);
  else storage_ = u;
}

Value Value::tagged(uint64_t tag, Value inner) {
  Value v;
  v.storage_ = Tagged{tag, std::make_shared<Value>(std::move(inner))};
  return v;
}

bool Value::as_bool() const {
  if (!is_bool()) fail("expected a boolean");
  return std::get<bool>(storage_);
}
int64_t Value::as_int() const {
  if (auto* i = std::get_if<int64_t>(&storage_)) return *i;
  if (std::holds_alternative<uint64_t>(storage_)) fail("integer out of range");
  fail("expected an integer");
}
const Bytes& Value::as_bytes() const {
  if (!is_bytes()) fail("expected a byte string");
  return std::get<Bytes>(storage_);
}
const std::string& Value::as_text() const {
  if (!is_text()) fail("expected a text string");
  return std::get<std::string>(storage_);
}
const Array& Value::as_array() const {
  if (!is_array()) fail("expected an array");
  return std::get<Array>(storage_);
}
Array& Value::as_array() {
  if (!is_array()) fail("expected an array");
  return std::get<Array>(storage_);
}
const Map& Value::as_map() const {
  if (!is_map()) fail("expected a map");
  return std::get<Map>(storage_);
}
Map& Value::as_map() {
  if (!is_map()) fail("expected a map");
  return std::get<Map>(storage_);
}
const Tagged& Value::as_tagged() const {
  if (!is_tagged()) fail("expected a tagged item");
  return std::get<Tagged>(storage_);
}

Value& Value::set(const std::string& key, Value value) {
  Map& m = as_map();
  for (auto& [k, v] : m) {
    if (k.is_text() && k.as_text() == key) {
      v = std::move(value);
      return v;
    }
  }
  m.emplace_back(Value(key), std::move(value));
  return m.back().second;
}

Value& Value::set_any(const Value& key, Value value) {
  Map& m = as_map();
  for (auto& [k, v] : m) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  m.emplace_back(key, std::move(value));
  return m.back().second;
}

const Value* Value::find(const std::string& key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, v] : std::get<Map>(storage_)) {
    if (k.is_text() && k.as_text() == key) return &v;
  }
  return nullptr;
}

Value* Value::find(const std::string& key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

const Value& Value::at(const std::string& key) const {
  const Value* v = find(key);
  if (!v) fail("missing key \"" + key + "\"");
  return *v;
}

Value& Value::push(Value value) {
  Array& a = as_array();
  a.push_back(std::move(value));
  return a.back();
}

bool Tagged::operator==(const Tagged& other) const {
  return tag == other.tag && value && other.value && *value == *other.value;
}

bool Value::operator==(const Value& other) const { return storage_ == other.storage_; }

void encode_to(const Value& value, Bytes& out) {
  const auto& s = value.storage();
  if (std::holds_alternative<Null>(s)) {
    out.push_back(0xf6);
  } else if (auto* b = std::get_if<bool>(&s)) {
    out.push_back(*b ? 0xf5 : 0xf4);
  } else if (auto* i = std::get_if<int64_t>(&s)) {
    if (*i >= 0) put_head(out, kUnsigned, uint64_t(*i));
    else put_head(out, kNegative, uint64_t(-1 - *i));
  } else if (auto* u = std::get_if<uint64_t>(&s)) {
    put_head(out, kUnsigned, *u);
  } else if (auto* d = std::get_if<double>(&s)) {
    out.push_back(0xfb);
    const uint64_t bits = std::bit_cast<uint64_t>(*d);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(uint8_t(bits >> shift));
  } else if (auto* bytes = std::get_if<Bytes>(&s)) {
    put_head(out, kBytes, bytes->size());
    out.insert(out.end(), bytes->begin(), bytes->end());
  } else if (auto* text = std::get_if<std::string>(&s)) {
    put_head(out, kText, text->size());
    out.insert(out.end(), text->begin(), text->end());
  } else if (auto* array = std::get_if<Array>(&s)) {
    put_head(out, kArray, array->size());
    for (const Value& v : *array) encode_to(v, out);
  } else if (auto* map = std::get_if<Map>(&s)) {
    put_head(out, kMap, map->size());
    for (const auto& [k, v] : *map) {
      encode_to(k, out);
      encode_to(v, out);
    }
  } else if (auto* tagged = std::get_if<Tagged>(&s)) {
    put_head(out, kTag, tagged->tag);
    encode_to(*tagged->value, out);
  }
}

Bytes encode(const Value& value) {
  Bytes out;
  encode_to(value, out);
  return out;
}

Value decode_prefix(std::span<const uint8_t> data, size_t& consumed) {
  Reader reader{data};
  Value v = reader.item();
  consumed = reader.pos;
  return v;
}

Value decode(std::span<const uint8_t> data) {
  size_t consumed = 0;
  Value v = decode_prefix(data, consumed);
  if (consumed != data.size()) fail("trailing bytes after the CBOR item");
  return v;
}

size_t byte_string_head_size(uint64_t length) {
  if (length < 24) return 1;
  if (length <= 0xff) return 2;
  if (length <= 0xffff) return 3;
  if (length <= 0xffffffffULL) return 5;
  return 9;
}

namespace {

// A JSON object key for a map key that is not text. Scalars are written out (an integer key, as
// COSE headers use, as its digits); a container or tagged key is named by its kind and place,
// not dumped: dumping nested keys escaped each level's quotes again, so 48 nested map keys
// made a string of about 2^48 bytes (fuzz_cbor_jumbf_cose, session 10).
std::string key_text(const Value& key, size_t index) {
  const auto& s = key.storage();
  if (auto* i = std::get_if<int64_t>(&s)) return std::to_string(*i);
  if (auto* u = std::get_if<uint64_t>(&s)) return std::to_string(*u);
  if (auto* bytes = std::get_if<Bytes>(&s)) return "h'" + hex(*bytes) + "'";
  if (std::holds_alternative<Null>(s) || std::holds_alternative<bool>(s) || std::holds_alternative<double>(s))
    return to_json(key).dump();
  const char* kind = std::holds_alternative<Array>(s) ? "array" : std::holds_alternative<Map>(s) ? "map" : "tagged";
  return std::string("<") + kind + " key #" + std::to_string(index) + ">";
}

}  // namespace

nlohmann::json to_json(const Value& value) {
  const auto& s = value.storage();
  if (std::holds_alternative<Null>(s)) return nullptr;
  if (auto* b = std::get_if<bool>(&s)) return *b;
  if (auto* i = std::get_if<int64_t>(&s)) return *i;
  if (auto* u = std::get_if<uint64_t>(&s)) return *u;
  if (auto* d = std::get_if<double>(&s)) return *d;
  if (auto* bytes = std::get_if<Bytes>(&s)) return hex(*bytes);
  if (auto* text = std::get_if<std::string>(&s)) return *text;
  if (auto* array = std::get_if<Array>(&s)) {
    nlohmann::json j = nlohmann::json::array();
    for (const Value& v : *array) j.push_back(to_json(v));
    return j;
  }
  if (auto* map = std::get_if<Map>(&s)) {
    nlohmann::json j = nlohmann::json::object();
    size_t index = 0;
    for (const auto& [k, v] : *map) {
      const std::string key = k.is_text() ? k.as_text() : key_text(k, index);
      j[key] = to_json(v);
      ++index;
    }
    return j;
  }
  const Tagged& t = std::get<Tagged>(s);
  return nlohmann::json{{"tag", t.tag}, {"value", to_json(*t.value)}};
}

}  // namespace opsis::provenance::cbor
