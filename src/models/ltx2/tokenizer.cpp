#include "models/ltx2/tokenizer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <queue>
#include <unordered_map>

#include "core/error.hpp"

namespace opsis::ltx2 {
namespace {

// The length in bytes of a whitespace code point (as Python's str.isspace) at the start
// (`from_end` false) or end of `s`, else 0.
size_t whitespace_at(std::string_view s, bool from_end) {
  static constexpr char32_t kWide[] = {0x85,   0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
                                       0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  if (s.empty()) return 0;
  const unsigned char edge = static_cast<unsigned char>(from_end ? s.back() : s.front());
  if (edge == ' ' || (edge >= 0x09 && edge <= 0x0D) || (edge >= 0x1C && edge <= 0x1F)) return 1;
  // A multi-byte code point: find its first byte and length, decode, compare.
  for (size_t length = 2; length <= 3 && length <= s.size(); ++length) {
    const std::string_view cp = from_end ? s.substr(s.size() - length) : s.substr(0, length);
    const auto lead = static_cast<unsigned char>(cp[0]);
    const size_t expected = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 0;
    if (expected != length) continue;
    char32_t value = length == 2 ? lead & 0x1F : lead & 0x0F;
    bool valid = true;
    for (size_t i = 1; i < length; ++i) {
      const auto c = static_cast<unsigned char>(cp[i]);
      if ((c & 0xC0) != 0x80) valid = false;
      value = (value << 6) | (c & 0x3F);
    }
    if (!valid) continue;
    for (const char32_t w : kWide)
      if (value == w) return length;
    return 0;
  }
  return 0;
}

}  // namespace

std::string_view strip_like_python(std::string_view text) {
  while (const size_t n = whitespace_at(text, false)) text.remove_prefix(n);
  while (const size_t n = whitespace_at(text, true)) text.remove_suffix(n);
  return text;
}

// The SentencePiece model file, read without libsentencepiece: that library links Debian's
// protobuf-lite, and a process holding both it and libtorch's full protobuf crashes while the
// two register their descriptors at start-up. The file is a protobuf ModelProto; only these
// fields are read (sentencepiece_model.proto): pieces (1: piece 1, score 2, type 3), the trainer
// spec (2: model_type 3, byte_fallback 35, unk/bos/eos/pad ids 40-43 and pieces 45-48) and the
// normalizer spec (3: name 1, precompiled_charsmap 2, add_dummy_prefix 3,
// remove_extra_whitespaces 4, escape_whitespaces 5).
namespace {

enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct Piece {
  std::string text;
  float score = 0;
  int type = kNormal;
};

class WireReader {
 public:
  WireReader(std::string_view bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  bool done() const { return at_ >= bytes_.size(); }
  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) fail("a varint runs past the end");
      const auto byte = static_cast<unsigned char>(bytes_[at_++]);
      value |= uint64_t(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
    fail("a varint is longer than 10 bytes");
  }
  // The next field's number and wire type.
  std::pair<uint32_t, int> tag() {
    const uint64_t t = varint();
    return {uint32_t(t >> 3), int(t & 7)};
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > bytes_.size() - at_) fail("a field's length runs past the end");
    const std::string_view out = bytes_.substr(at_, size_t(n));
    at_ += size_t(n);
    return out;
  }
  float fixed32() {
    if (bytes_.size() - at_ < 4) fail("a float runs past the end");
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) bits |= uint32_t(static_cast<unsigned char>(bytes_[at_ + size_t(i)])) << (8 * i);
    at_ += 4;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case 0: varint(); return;
      case 1: if (bytes_.size() - at_ < 8) fail("a field runs past the end"); at_ += 8; return;
      case 2: bytes(); return;
      case 5: fixed32(); return;
      default: fail("unknown protobuf wire type " + std::to_string(wire_type));
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidArgument("tokenizer", "'" + path_ + "' is not a SentencePiece model: " + what);
  }

 private:
  std::string_view bytes_;
  const std::string& path_;
  size_t at_ = 0;
};

// The length of the UTF-8 character at the start of s (1 for a malformed byte, as
// SentencePiece takes it).
size_t utf8_length(std::string_view s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  const size_t n = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 1;
  if (n > s.size()) return 1;
  for (size_t i = 1; i < n; ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 1;
  return n;
}

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // U+2581, SentencePiece's escaped space

}  // namespace

struct GemmaTokenizer::Impl {
  std::vector<Piece> pieces;
  std::unordered_map<std::string, int> mergeable;  // normal, user-defined and unused pieces -> id
  std::unordered_map<std::string, int> reserved;   // control, unknown and byte pieces -> id
  std::vector<std::string> user_defined;           // matched whole, longest first
  int unk = 0;
  bool byte_fallback = false;
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;

  int id_of(const std::string& piece) const {
    if (auto it = reserved.find(piece); it != reserved.end()) return it->second;
    if (auto it = mergeable.find(piece); it != mergeable.end()) return it->second;
    return unk;
  }

  std::string normalize(std::string_view text) const {
    std::string t(text);
    if (remove_extra_whitespaces) {
      std::string squeezed;
      for (char c : t)
        if (c != ' ' || (!squeezed.empty() && squeezed.back() != ' ')) squeezed += c;
      while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
      t = squeezed;
    }
    if (add_dummy_prefix && !t.empty()) t.insert(t.begin(), ' ');
    if (!escape_whitespaces) return t;
    std::string out;
    for (char c : t) {
      if (c == ' ') out.append(kSpaceMark);
      else out.push_back(c);
    }
    return out;
  }

  // SentencePiece's BPE: characters (user-defined pieces whole), then the adjacent pair whose
  // concatenation is the highest-scoring piece merged first (ties: the leftmost), until no pair
  // is a piece; unused pieces split back into what made them; anything not a piece becomes its
  // bytes' <0xNN> pieces (byte fallback) or the unknown id.
  std::vector<int> encode(std::string_view text) const {
    const std::string normalized = normalize(text);
    struct Symbol {
      size_t begin, length;
      int prev, next;
      bool frozen;
    };
    std::vector<Symbol> symbols;
    for (size_t at = 0; at < normalized.size();) {
      size_t length = 0;
      bool frozen = false;
      for (const std::string& u : user_defined)
        if (normalized.compare(at, u.size(), u) == 0) {
          length = u.size(), frozen = true;
          break;
        }
      if (!length) length = utf8_length(std::string_view(normalized).substr(at));
      symbols.push_back({at, length, int(symbols.size()) - 1, -1, frozen});
      at += length;
    }
    for (size_t i = 0; i + 1 < symbols.size(); ++i) symbols[i].next = int(i) + 1;
    struct Pair {
      float score;
      int left, right;
      size_t length;
    };
    auto before = [](const Pair& a, const Pair& b) { return a.score < b.score || (a.score == b.score && a.left > b.left); };
    std::priority_queue<Pair, std::vector<Pair>, decltype(before)> agenda(before);
    std::unordered_map<std::string, std::pair<std::string, std::string>> unmerge;
    auto consider = [&](int left, int right) {
      if (left < 0 || right < 0 || symbols[size_t(left)].frozen || symbols[size_t(right)].frozen) return;
      const Symbol &l = symbols[size_t(left)], &r = symbols[size_t(right)];
      const std::string joined = normalized.substr(l.begin, l.length + r.length);
      const auto it = mergeable.find(joined);
      if (it == mergeable.end()) return;
      agenda.push({pieces[size_t(it->second)].score, left, right, joined.size()});
      if (pieces[size_t(it->second)].type == kUnused)
        unmerge[joined] = {normalized.substr(l.begin, l.length), normalized.substr(r.begin, r.length)};
    };
    for (size_t i = 1; i < symbols.size(); ++i) consider(int(i) - 1, int(i));
    while (!agenda.empty()) {
      const Pair top = agenda.top();
      agenda.pop();
      Symbol &l = symbols[size_t(top.left)], &r = symbols[size_t(top.right)];
      if (l.length == 0 || r.length == 0 || l.length + r.length != top.length) continue;  // stale
      l.length += r.length;
      l.next = r.next;
      if (r.next >= 0) symbols[size_t(r.next)].prev = top.left;
      r.length = 0;
      consider(l.prev, top.left);
      consider(top.left, l.next);
    }
    std::vector<int> ids;
    std::function<void(const std::string&)> emit = [&](const std::string& piece) {
      const int id = id_of(piece);
      if (pieces[size_t(id)].type == kUnused) {
        if (auto it = unmerge.find(piece); it != unmerge.end()) {
          emit(it->second.first);
          emit(it->second.second);
          return;
        }
      }
      if (id == unk && byte_fallback) {
        char name[8];
        for (const char byte : piece) {
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(byte));
          ids.push_back(id_of(name));
        }
        return;
      }
      ids.push_back(id);
    };
    for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[size_t(i)].next)
      if (symbols[size_t(i)].length) emit(normalized.substr(symbols[size_t(i)].begin, symbols[size_t(i)].length));
    return ids;
  }
};

GemmaTokenizer::GemmaTokenizer(const std::string& model_path) : impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) throw IoError("cannot read tokenizer model '" + model_path + "'");
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw IoError("cannot read tokenizer model '" + model_path + "'");
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Impl& m = *impl_;
  int model_type = 1;  // UNIGRAM, the proto's default
  int ids[4] = {0, 1, 2, -1};  // unk, bos, eos, pad: the trainer spec's defaults
  std::string names[4] = {"<unk>", "<s>", "</s>", "<pad>"};
  bool has_precompiled_map = false;
  std::string normalizer = "nmt_nfkc";
  WireReader model(file, model_path);
  while (!model.done()) {
    const auto [field, wire] = model.tag();
    if (field == 1 && wire == 2) {
      WireReader piece(model.bytes(), model_path);
      Piece p;
      while (!piece.done()) {
        const auto [f, w] = piece.tag();
        if (f == 1 && w == 2) p.text = std::string(piece.bytes());
        else if (f == 2 && w == 5) p.score = piece.fixed32();
        else if (f == 3 && w == 0) p.type = int(piece.varint());
        else piece.skip(w);
      }
      m.pieces.push_back(std::move(p));
    } else if (field == 2 && wire == 2) {
      WireReader spec(model.bytes(), model_path);
      while (!spec.done()) {
        const auto [f, w] = spec.tag();
        if (f == 3 && w == 0) model_type = int(spec.varint());
        else if (f == 35 && w == 0) m.byte_fallback = spec.varint() != 0;
        else if (f >= 40 && f <= 43 && w == 0) ids[f - 40] = int(int32_t(spec.varint()));
        else if (f >= 45 && f <= 48 && w == 2) names[f - 45] = std::string(spec.bytes());
        else spec.skip(w);
      }
    } else if (field == 3 && wire == 2) {
      WireReader spec(model.bytes(), model_path);
      while (!spec.done()) {
        const auto [f, w] = spec.tag();
        if (f == 1 && w == 2) normalizer = std::string(spec.bytes());
        else if (f == 2 && w == 2) has_precompiled_map = !spec.bytes().empty();
        else if (f == 3 && w == 0) m.add_dummy_prefix = spec.varint() != 0;
        else if (f == 4 && w == 0) m.remove_extra_whitespaces = spec.varint() != 0;
        else if (f == 5 && w == 0) m.escape_whitespaces = spec.varint() != 0;
        else spec.skip(w);
      }
    } else {
      model.skip(wire);
    }
  }
  if (m.pieces.empty()) model.fail("it has no pieces");
  if (model_type != 2) model.fail("its model type is " + std::to_string(model_type) + ", not BPE (2), which Gemma's is");
  if (has_precompiled_map || (normalizer != "identity" && !normalizer.empty()))
    model.fail("its normalizer '" + normalizer + "' rewrites text, which this reader does not do (Gemma's is 'identity')");
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const Piece& p = m.pieces[i];
    const bool mergeable = p.type == kNormal || p.type == kUserDefined || p.type == kUnused;
    auto& table = mergeable ? m.mergeable : m.reserved;
    if (!table.emplace(p.text, int(i)).second) model.fail("the piece '" + p.text + "' is there twice");
    if (p.type == kUserDefined) m.user_defined.push_back(p.text);
    if (p.type == kUnknown) m.unk = int(i);
  }
  std::sort(m.user_defined.begin(), m.user_defined.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  // A special token's id: its piece's, when the model has that piece as a control token, else
  // the trainer spec's number (SentencePiece looks the piece up).
  auto special = [&](int k) {
    if (auto it = m.reserved.find(names[k]); it != m.reserved.end() && m.pieces[size_t(it->second)].type == kControl) return it->second;
    return ids[k] >= 0 && ids[k] < int(m.pieces.size()) && m.pieces[size_t(ids[k])].type == kControl ? ids[k] : -1;
  };
  bos_ = special(1);
  eos_ = special(2);
  pad_ = special(3) >= 0 ? special(3) : eos_;
  if (bos_ < 0) throw InvalidArgument("tokenizer", "'" + model_path + "' has no BOS token, which the LTX-2 text path puts first");
  if (pad_ < 0) throw InvalidArgument("tokenizer", "'" + model_path + "' has neither a pad nor an EOS token to pad with");
}

GemmaTokenizer::~GemmaTokenizer() = default;

int GemmaTokenizer::vocab_size() const { return int(impl_->pieces.size()); }

TokenizedPrompt GemmaTokenizer::encode(std::string_view prompt, int max_length) const {
  if (max_length < 1) throw InvalidArgument("max_length", "the tokenizer's max_length must be at least 1");
  const std::vector<int> pieces = impl_->encode(strip_like_python(prompt));
  // BOS, then the text, cut to max_length (Gemma 3's tokenizer emits the BOS itself, so the
  // reference's "prepend when missing" never adds a second one).
  std::vector<int64_t> tokens;
  tokens.reserve(size_t(max_length));
  tokens.push_back(bos_);
  for (const int id : pieces) {
    if (int(tokens.size()) == max_length) break;
    tokens.push_back(id);
  }
  TokenizedPrompt out;
  out.tokens = int(tokens.size());
  out.ids.assign(size_t(max_length - out.tokens), pad_);
  out.mask.assign(size_t(max_length - out.tokens), 0);
  out.ids.insert(out.ids.end(), tokens.begin(), tokens.end());
  out.mask.insert(out.mask.end(), size_t(out.tokens), 1);
  return out;
}

std::string GemmaTokenizer::decode(const std::vector<int64_t>& ids) const {
  const Impl& m = *impl_;
  std::string text;
  for (const int64_t id : ids) {
    if (id < 0 || id >= vocab_size() || id == bos_ || id == eos_ || id == pad_) continue;
    const Piece& p = m.pieces[size_t(id)];
    if (p.type == kControl) continue;
    if (p.type == kByte && p.text.size() == 6) {
      text.push_back(char(std::stoi(p.text.substr(3, 2), nullptr, 16)));
    } else if (p.type == kUnknown) {
      text += " \xe2\x81\x87 ";  // SentencePiece's " ⁇ "
    } else {
      for (size_t at = 0; at < p.text.size();) {
        if (p.text.compare(at, kSpaceMark.size(), kSpaceMark) == 0 && m.escape_whitespaces) text += ' ', at += kSpaceMark.size();
        else text += p.text[at++];
      }
    }
  }
  if (m.add_dummy_prefix && !text.empty() && text.front() == ' ') text.erase(text.begin());
  return text;
}

}  // namespace opsis::ltx2
