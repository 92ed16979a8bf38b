#include "policy/normalize.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>

namespace opsis::policy {

namespace {

// Latin-1 Supplement and Latin Extended-A letters to ASCII.
const char* fold_latin(uint32_t cp) {
  static const std::unordered_map<uint32_t, const char*> table = [] {
    std::unordered_map<uint32_t, const char*> t;
    auto add = [&](const char* letters, const char* ascii) {
      // letters: UTF-8 text of code points that all fold to `ascii`
      const auto* p = reinterpret_cast<const unsigned char*>(letters);
      while (*p) {
        uint32_t c;
        int n;
        if (*p < 0x80) c = *p, n = 1;
        else if ((*p & 0xe0) == 0xc0) c = uint32_t(*p & 0x1f) << 6 | (p[1] & 0x3f), n = 2;
        else c = uint32_t(*p & 0x0f) << 12 | uint32_t(p[1] & 0x3f) << 6 | (p[2] & 0x3f), n = 3;
        t[c] = ascii;
        p += n;
      }
    };
    add("ÀÁÂÃÄÅàáâãäåĀāĂăĄą", "a");
    add("ÆæǼǽ", "ae");
    add("ÇçĆćĈĉĊċČč", "c");
    add("ĎďĐđÐð", "d");
    add("ÈÉÊËèéêëĒēĔĕĖėĘęĚě", "e");
    add("ĜĝĞğĠġĢģ", "g");
    add("ĤĥĦħ", "h");
    add("ÌÍÎÏìíîïĨĩĪīĬĭĮįİı", "i");
    add("Ĵĵ", "j");
    add("Ķķ", "k");
    add("ĹĺĻļĽľĿŀŁł", "l");
    add("ÑñŃńŅņŇň", "n");
    add("ÒÓÔÕÖØòóôõöøŌōŎŏŐő", "o");
    add("Œœ", "oe");
    add("ŔŕŖŗŘř", "r");
    add("ŚśŜŝŞşŠš", "s");
    add("ß", "ss");
    add("ŢţŤťŦŧ", "t");
    add("ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų", "u");
    add("Ŵŵ", "w");
    add("ÝýÿŶŷŸ", "y");
    add("ŹźŻżŽž", "z");
    add("Þþ", "th");
    return t;
  }();
  auto it = table.find(cp);
  return it == table.end() ? nullptr : it->second;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) out += char(cp);
  else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}

bool is_ascii_letter(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

char leet(char c) {
  switch (c) {
    case '0': return 'o';
    case '1': return 'i';
    case '3': return 'e';
    case '4': return 'a';
    case '5': return 's';
    case '7': return 't';
    case '8': return 'b';
    case '9': return 'g';
    case '$': return 's';
    case '@': return 'a';
    case '!': return 'i';
    default: return c;
  }
}

}  // namespace

std::string fold_text(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    uint32_t cp;
    size_t n;
    if (c < 0x80) cp = c, n = 1;
    else if ((c & 0xe0) == 0xc0) cp = c & 0x1f, n = 2;
    else if ((c & 0xf0) == 0xe0) cp = c & 0x0f, n = 3;
    else if ((c & 0xf8) == 0xf0) cp = c & 0x07, n = 4;
    else {
      ++i;  // not UTF-8: dropped
      continue;
    }
    if (i + n > text.size()) break;
    bool valid = true;
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xc0) != 0x80) valid = false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (!valid) {
      ++i;
      continue;
    }
    i += n;
    if (cp < 0x80) out += char(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    else if (const char* ascii = fold_latin(cp)) out += ascii;
    else if (cp >= 0x410 && cp <= 0x42f) append_utf8(out, cp + 0x20);  // Cyrillic А-Я
    else if (cp >= 0x400 && cp <= 0x40f) append_utf8(out, cp + 0x50);  // Ѐ-Џ
    else if (cp == 0x2019 || cp == 0x2018) out += '\'';
    else if (cp == 0x00a0 || cp == 0x2009 || cp == 0x200b) out += ' ';
    else append_utf8(out, cp);
  }
  return out;
}

std::vector<Token> tokenize(const std::string& text) {
  const std::string folded = fold_text(text);
  std::vector<Token> words;
  size_t i = 0;
  auto is_word_byte = [](unsigned char c) { return is_ascii_letter(char(c)) || is_digit(char(c)) || c >= 0x80; };
  while (i < folded.size()) {
    const auto c = static_cast<unsigned char>(folded[i]);
    if (!is_word_byte(c) && !(c == '$' || c == '*' || c == '@')) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < folded.size()) {
      const auto d = static_cast<unsigned char>(folded[end]);
      if (is_word_byte(d) || d == '*' || d == '$' || d == '@') {
        ++end;
        continue;
      }
      // "!" inside a word ("s!ut"): leetspeak, not punctuation.
      if (d == '!' && end > i && end + 1 < folded.size() && is_ascii_letter(folded[end + 1])) {
        ++end;
        continue;
      }
      break;
    }
    std::string raw = folded.substr(i, end - i);
    i = end;
    // A lone symbol is not a word.
    if (std::none_of(raw.begin(), raw.end(), [&](char ch) { return is_word_byte(static_cast<unsigned char>(ch)); }))
      continue;
    const bool has_letter = std::any_of(raw.begin(), raw.end(), [](char ch) { return is_ascii_letter(ch); });
    const bool has_digit_or_symbol = std::any_of(raw.begin(), raw.end(), [](char ch) {
      return is_digit(ch) || ch == '$' || ch == '@' || ch == '!';
    });
    std::string mapped = raw;
    // Leetspeak only where letters mix with digits or symbols: "12" stays a number, but
    // "12yo" is an age, not a word, so an age-like token keeps its digits.
    const bool age_like = is_digit(raw[0]) && (raw.ends_with("yo") || raw.ends_with("yr") || raw.ends_with("yrs") ||
                                               raw.ends_with("yearold") || raw.ends_with("yearsold"));
    if (has_letter && has_digit_or_symbol && !age_like) std::transform(mapped.begin(), mapped.end(), mapped.begin(), leet);
    words.push_back({raw, mapped});
  }
  // Join runs of three or more single letters: "s e x", "p.o.r.n".
  std::vector<Token> out;
  for (size_t k = 0; k < words.size();) {
    size_t run = k;
    while (run < words.size() && words[run].text.size() == 1 && is_ascii_letter(words[run].text[0])) ++run;
    // "a s e x": the article stays a word of its own.
    if (run - k >= 4 && (words[k].text == "a" || words[k].text == "i")) {
      out.push_back(words[k]);
      ++k;
    }
    if (run - k >= 3) {
      std::string joined;
      for (size_t m = k; m < run; ++m) joined += words[m].text;
      out.push_back({joined, joined});
      k = run;
    } else {
      out.push_back(words[k]);
      ++k;
    }
  }
  return out;
}

std::string squeeze(const std::string& word) {
  std::string out;
  for (char c : word)
    if (out.empty() || out.back() != c) out += c;
  return out;
}

namespace {

// squeeze(a) == squeeze(b), without building either.
bool same_squeezed(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] != b[j]) return false;
    const char c = a[i];
    while (i < a.size() && a[i] == c) ++i;
    while (j < b.size() && b[j] == c) ++j;
  }
  return i == a.size() && j == b.size();
}

}  // namespace

int edit_distance(const std::string& a, const std::string& b, int limit) {
  const int n = int(a.size()), m = int(b.size());
  if (std::abs(n - m) > limit) return limit + 1;
  // Three rows of the table; on the stack for words of up to 63 letters (all but hostile input).
  std::array<int, 64> rows[3];
  std::vector<int> heap;
  int *two_back_row = rows[0].data(), *previous_row = rows[1].data(), *current_row = rows[2].data();
  if (m + 1 > 64) {
    heap.assign(size_t(3 * (m + 1)), 0);
    two_back_row = heap.data(), previous_row = heap.data() + (m + 1), current_row = heap.data() + 2 * (m + 1);
  }
  std::span<int> two_back(two_back_row, size_t(m + 1)), previous(previous_row, size_t(m + 1)), current(current_row, size_t(m + 1));
  for (int j = 0; j <= m; ++j) previous[size_t(j)] = j;
  for (int i = 1; i <= n; ++i) {
    current[0] = i;
    int row_min = current[0];
    for (int j = 1; j <= m; ++j) {
      const int cost = a[size_t(i - 1)] == b[size_t(j - 1)] ? 0 : 1;
      int value = std::min({previous[size_t(j)] + 1, current[size_t(j - 1)] + 1, previous[size_t(j - 1)] + cost});
      if (i > 1 && j > 1 && a[size_t(i - 1)] == b[size_t(j - 2)] && a[size_t(i - 2)] == b[size_t(j - 1)])
        value = std::min(value, two_back[size_t(j - 2)] + 1);
      current[size_t(j)] = value;
      row_min = std::min(row_min, value);
    }
    if (row_min > limit) return limit + 1;
    std::swap(two_back, previous);
    std::swap(previous, current);
  }
  return previous[size_t(m)];
}

bool word_matches(const std::string& word, const std::string& rule_word) {
  if (word == rule_word) return true;
  if (word.size() == rule_word.size() + 1 && word.back() == 's' && word.compare(0, rule_word.size(), rule_word) == 0)
    return true;
  if (word.size() == rule_word.size() + 2 && word.ends_with("es") && word.compare(0, rule_word.size(), rule_word) == 0)
    return true;
  if (word.find('*') != std::string::npos && word.size() == rule_word.size() && word.size() >= 3) {
    bool same = word[0] != '*';
    for (size_t i = 0; same && i < word.size(); ++i) same = word[i] == '*' || word[i] == rule_word[i];
    if (same) return true;
  }
  // Repeated letters added, never removed: "nuuude" is "nude", but "bobs" is not "boobs".
  if (rule_word.size() >= 4 && word.size() >= rule_word.size() && same_squeezed(word, rule_word)) return true;
  if (rule_word.size() >= 6 && !word.empty() && word[0] == rule_word[0] &&
      static_cast<unsigned char>(rule_word[0]) < 0x80) {
    const int limit = rule_word.size() >= 10 ? 2 : 1;
    if (edit_distance(word, rule_word, limit) <= limit) return true;
  }
  return false;
}

}  // namespace opsis::policy
