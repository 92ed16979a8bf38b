#include "policy/policy.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <map>
#include <cctype>
#include <set>
#include <string_view>
#include <sstream>

#include "cameo/merkle.hpp"
#include "core/error.hpp"
#include "policy/normalize.hpp"

namespace opsis::policy {

using nlohmann::json;

extern const char* const kBuiltInRules;  // rules_builtin.cpp, generated from rules.json

namespace {

struct Term {
  std::string text;                // as written in the rules file
  std::vector<std::string> words;  // tokenized
  std::string folded;              // for substring terms
  bool substring = false;          // non-Latin scripts: matched inside the folded text
};

struct TermGroup {
  std::vector<Term> terms;
  int ages_below = 0;  // also matches "12-year-old", "12yo", "aged 12" under this age
};

struct ContentRule {
  std::string id, code, param, message;
  std::vector<TermGroup> all_of;  // every group must match
  std::vector<Term> unless;       // phrases that make a match inside them harmless
};

struct Figure {
  std::string name;
  std::vector<Term> names;
};

struct Topic {
  std::string id;
  std::vector<Term> triggers;  // words in a restriction that name the topic
  std::vector<Term> terms;     // words in a prompt that break it
};

struct Span {
  size_t begin = 0, end = 0;
};

struct Prompt {
  std::vector<Token> tokens;
  std::string folded;
};

}  // namespace

struct Policy::Rules {
  std::string version;
  std::vector<ContentRule> content;
  std::string figure_code = "public_figure", figure_message;
  std::vector<Figure> figures;
  std::vector<Term> figure_unless;
  std::vector<Topic> topics;
  std::set<std::string> restriction_stopwords;
  std::set<std::string> never_fuzzy;
  std::string restriction_message, face_message, unknown_cameo_message, too_many_message, cameo_message;
};

namespace {

[[noreturn]] void bad_rules(const std::string& message) { throw InvalidArgument("policy_rules", "policy rules: " + message); }

Term make_term(const std::string& text, const std::string& where) {
  Term term;
  term.text = text;
  term.folded = fold_text(text);
  term.substring = std::any_of(term.folded.begin(), term.folded.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  for (const auto& token : tokenize(text)) term.words.push_back(token.text);
  if (term.words.empty()) bad_rules(where + ": the term '" + text + "' has no words");
  return term;
}

std::vector<Term> term_list(const json& value, const std::string& where) {
  if (value.is_null()) return {};
  if (!value.is_array()) bad_rules(where + " must be an array of strings");
  std::vector<Term> out;
  for (const auto& item : value) {
    if (!item.is_string()) bad_rules(where + " must hold only strings");
    out.push_back(make_term(item.get<std::string>(), where));
  }
  return out;
}

std::string string_field(const json& object, const std::string& key, const std::string& where, bool required = true) {
  if (!object.contains(key)) {
    if (required) bad_rules(where + " needs \"" + key + "\"");
    return "";
  }
  if (!object[key].is_string()) bad_rules(where + "." + key + " must be a string");
  return object[key].get<std::string>();
}

std::shared_ptr<const Policy::Rules> parse_rules(const json& j) {
  if (!j.is_object()) bad_rules("the file must hold a JSON object");
  auto rules = std::make_shared<Policy::Rules>();
  rules->version = string_field(j, "version", "rules");
  const json messages = j.value("messages", json::object());
  if (!messages.is_object()) bad_rules("messages must be an object");
  rules->restriction_message = string_field(messages, "cameo_restriction", "messages");
  rules->face_message = string_field(messages, "input_reference_face", "messages");
  rules->unknown_cameo_message = string_field(messages, "cameo_not_found", "messages");
  rules->too_many_message = string_field(messages, "too_many_cameos", "messages");
  rules->cameo_message = string_field(messages, "cameo_not_allowed", "messages");

  // Content rules, order = precedence.
  const json content = j.value("content_rules", json());
  if (!content.is_array() || content.empty()) bad_rules("content_rules must be a non-empty array");
  std::map<std::string, std::vector<Term>> any_terms_of;
  for (const auto& item : content) {
    if (!item.is_object()) bad_rules("each content rule must be an object");
    ContentRule rule;
    rule.id = string_field(item, "id", "content rule");
    const std::string where = "content rule " + rule.id;
    rule.code = string_field(item, "code", where);
    rule.param = item.contains("param") ? string_field(item, "param", where) : "prompt";
    rule.message = string_field(item, "message", where);
    rule.unless = term_list(item.value("unless", json()), where + ".unless");
    if (item.contains("any_of")) {
      TermGroup group;
      group.terms = term_list(item["any_of"], where + ".any_of");
      any_terms_of[rule.id] = group.terms;
      rule.all_of.push_back(std::move(group));
    }
    if (item.contains("all_of")) {
      if (!item["all_of"].is_array()) bad_rules(where + ".all_of must be an array of groups");
      for (const auto& g : item["all_of"]) {
        if (!g.is_object()) bad_rules(where + ".all_of groups must be objects");
        TermGroup group;
        group.terms = term_list(g.value("terms", json()), where + ".all_of.terms");
        if (g.contains("ages_below")) {
          if (!g["ages_below"].is_number_integer()) bad_rules(where + ".ages_below must be an integer");
          group.ages_below = g["ages_below"].get<int>();
        }
        if (g.contains("include_terms_of")) {
          if (!g["include_terms_of"].is_array()) bad_rules(where + ".include_terms_of must be an array");
          for (const auto& other : g["include_terms_of"]) {
            if (!other.is_string() || !any_terms_of.count(other.get<std::string>()))
              bad_rules(where + ".include_terms_of names a rule that is not defined before it");
            const auto& extra = any_terms_of[other.get<std::string>()];
            group.terms.insert(group.terms.end(), extra.begin(), extra.end());
          }
        }
        if (group.terms.empty() && group.ages_below == 0) bad_rules(where + " has an empty group");
        rule.all_of.push_back(std::move(group));
      }
    }
    if (rule.all_of.empty()) bad_rules(where + " needs any_of or all_of");
    rules->content.push_back(std::move(rule));
  }
  // Content rules that other rules include must be parsed first; ordering by precedence is
  // separate: "precedence" lists ids, highest first.
  if (j.contains("precedence")) {
    if (!j["precedence"].is_array()) bad_rules("precedence must be an array of rule ids");
    std::vector<ContentRule> ordered;
    for (const auto& id : j["precedence"]) {
      auto it = std::find_if(rules->content.begin(), rules->content.end(),
                             [&](const ContentRule& r) { return id.is_string() && r.id == id.get<std::string>(); });
      if (it == rules->content.end()) bad_rules("precedence names an unknown rule");
      ordered.push_back(*it);
    }
    if (ordered.size() != rules->content.size()) bad_rules("precedence must list every content rule once");
    rules->content = std::move(ordered);
  }

  const json figures = j.value("public_figures", json::object());
  if (!figures.is_object()) bad_rules("public_figures must be an object");
  rules->figure_code = figures.contains("code") ? string_field(figures, "code", "public_figures") : "public_figure";
  rules->figure_message = string_field(figures, "message", "public_figures");
  rules->figure_unless = term_list(figures.value("unless", json()), "public_figures.unless");
  const json people = figures.value("people", json::array());
  if (!people.is_array()) bad_rules("public_figures.people must be an array");
  for (const auto& person : people) {
    Figure figure;
    figure.name = string_field(person, "name", "public figure");
    figure.names.push_back(make_term(figure.name, "public figure " + figure.name));
    for (auto& alias : term_list(person.value("aliases", json()), "public figure " + figure.name))
      figure.names.push_back(std::move(alias));
    rules->figures.push_back(std::move(figure));
  }

  const json topics = j.value("restriction_topics", json::array());
  if (!topics.is_array()) bad_rules("restriction_topics must be an array");
  for (const auto& item : topics) {
    Topic topic;
    topic.id = string_field(item, "topic", "restriction topic");
    topic.triggers = term_list(item.value("triggers", json()), "restriction topic " + topic.id + ".triggers");
    topic.terms = term_list(item.value("terms", json()), "restriction topic " + topic.id + ".terms");
    if (topic.triggers.empty() || topic.terms.empty()) bad_rules("restriction topic " + topic.id + " needs triggers and terms");
    rules->topics.push_back(std::move(topic));
  }
  for (const auto& word : j.value("restriction_stopwords", json::array()))
    if (word.is_string()) rules->restriction_stopwords.insert(fold_text(word.get<std::string>()));
  for (const auto& word : j.value("never_fuzzy", json::array()))
    if (word.is_string()) rules->never_fuzzy.insert(fold_text(word.get<std::string>()));
  return rules;
}

// `word` is `rule_word` or its plural with "s" or "es" (no string is built: this runs for every
// rule word at every position of every prompt).
bool same_or_plural(const std::string& word, const std::string& rule_word) {
  if (word.compare(0, rule_word.size(), rule_word) != 0) return false;
  const std::string_view rest = std::string_view(word).substr(std::min(word.size(), rule_word.size()));
  return word.size() >= rule_word.size() && (rest.empty() || rest == "s" || rest == "es");
}

bool word_ok(const std::string& prompt_word, const std::string& rule_word, const std::set<std::string>& never_fuzzy) {
  // Every way a word may match (exact, plural, starred, stretched, misspelt) keeps its first
  // letter: most pairs end here, before the set lookup and the edit distance.
  if (prompt_word.empty() || rule_word.empty() || prompt_word[0] != rule_word[0]) return prompt_word == rule_word;
  if (never_fuzzy.count(prompt_word)) return same_or_plural(prompt_word, rule_word);
  return word_matches(prompt_word, rule_word);
}

std::vector<Span> find_all(const Term& term, const Prompt& prompt, const std::set<std::string>& never_fuzzy,
                           bool exact = false) {
  std::vector<Span> spans;
  if (term.substring) {
    if (prompt.folded.find(term.folded) != std::string::npos) spans.push_back({0, 0});
    return spans;
  }
  const size_t k = term.words.size();
  for (size_t i = 0; i + k <= prompt.tokens.size(); ++i) {
    bool all = true;
    for (size_t j = 0; all && j < k; ++j) {
      const std::string& word = prompt.tokens[i + j].text;
      all = exact ? (word == term.words[j] || (word.size() == term.words[j].size() + 1 && word.back() == 's' &&
                                                 word.compare(0, term.words[j].size(), term.words[j]) == 0))
                  : word_ok(word, term.words[j], never_fuzzy);
    }
    if (all) spans.push_back({i, i + k});
  }
  return spans;
}

// The first term of `terms` found outside the `unless` phrases; "" when none.
std::string first_match(const std::vector<Term>& terms, const std::vector<Term>& unless, const Prompt& prompt,
                        const std::set<std::string>& never_fuzzy) {
  std::vector<Span> harmless;
  for (const auto& phrase : unless) {
    // Harmless phrases match as written (plurals aside), so a typo of a rule word never hides in one.
    auto spans = find_all(phrase, prompt, never_fuzzy, true);
    harmless.insert(harmless.end(), spans.begin(), spans.end());
  }
  for (const auto& term : terms) {
    for (const Span& span : find_all(term, prompt, never_fuzzy)) {
      const bool inside = !term.substring && std::any_of(harmless.begin(), harmless.end(), [&](const Span& h) {
        return h.begin <= span.begin && span.end <= h.end && h.end > h.begin;
      });
      if (!inside) return term.text;
    }
  }
  return "";
}

int number_word(const std::string& w) {
  static const char* words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"};
  for (int i = 0; i < 18; ++i)
    if (w == words[i]) return i;
  if (!w.empty() && w.size() <= 3 && std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoi(w);
  return -1;
}

// "12 year old", "12-year-old", "twelve years old", "12yo", "12 yo", "aged 12", "age 9".
std::string age_below(int limit, const Prompt& prompt) {
  const auto& t = prompt.tokens;
  for (size_t i = 0; i < t.size(); ++i) {
    const std::string& raw = t[i].raw;
    int age = -1;
    // "12yo", "12yr", "12yrs"
    size_t digits = 0;
    while (digits < raw.size() && raw[digits] >= '0' && raw[digits] <= '9') ++digits;
    if (digits > 0 && digits <= 2 && digits < raw.size()) {
      const std::string rest = raw.substr(digits);
      if (rest == "yo" || rest == "yr" || rest == "yrs" || rest == "yearold" || rest == "yearsold") age = std::stoi(raw.substr(0, digits));
    }
    const int n = number_word(raw);
    if (age < 0 && n >= 0 && i + 1 < t.size()) {
      const std::string& next = t[i + 1].raw;
      const std::string after = i + 2 < t.size() ? t[i + 2].raw : "";
      const std::string before = i > 0 ? t[i - 1].raw : "";
      if (next == "yo" || ((next == "year" || next == "years" || next == "yr" || next == "yrs") && after == "old") ||
          ((next == "anos" || next == "ans" || next == "anni") && (before == "de" || before == "di")) ||
          (next == "jahre" && after == "alt") || next == "jahrige" || next == "jahriger" || next == "jahriges")
        age = n;
    }
    if (age < 0 && (raw == "aged" || raw == "age") && i + 1 < t.size()) age = number_word(t[i + 1].raw);
    // "a boy of 9", "a girl of twelve"
    if (age < 0 && raw == "of" && i > 0 && i + 1 < t.size()) {
      const std::string& who = t[i - 1].raw;
      if (who == "boy" || who == "girl" || who == "boys" || who == "girls" || who == "child" || who == "kid")
        age = number_word(t[i + 1].raw);
    }
    if (age >= 0 && age < limit) return std::to_string(age) + "-year-old";
  }
  return "";
}

std::string replace_all(std::string text, const std::string& key, const std::string& value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

// The prompt without its @mentions: a handle is a name, not words.
std::string without_mentions(const std::string& prompt) {
  std::string out = prompt;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != '@') continue;
    if (i > 0) {  // the same test as cameo::mentioned_handles: "a@b.com" is not a mention
      const auto before = static_cast<unsigned char>(out[i - 1]);
      if (std::isalnum(before) || before == '_' || before == '.' || before >= 0x80) continue;
    }
    size_t end = i + 1;
    while (end < out.size() && (std::isalnum(static_cast<unsigned char>(out[end])) || out[end] == '_' || out[end] == '.'))
      ++end;
    for (size_t k = i; k < end; ++k) out[k] = ' ';
  }
  return out;
}

PolicyDecision refuse(std::string rule, std::string code, std::string param, std::string message,
                      std::vector<std::string> matched) {
  PolicyDecision d;
  d.allowed = false;
  d.rule = std::move(rule);
  d.code = std::move(code);
  d.param = std::move(param);
  d.message = std::move(message);
  d.matched = std::move(matched);
  return d;
}

}  // namespace

Policy Policy::from_json(const json& rules) {
  Policy policy;
  policy.rules_ = parse_rules(rules);
  return policy;
}

Policy Policy::built_in() {
  static const Policy policy = from_json(json::parse(kBuiltInRules));
  return policy;
}

Policy Policy::load(const std::filesystem::path& rules_path) {
  std::ifstream in(rules_path, std::ios::binary);
  if (!in) throw InvalidArgument("policy_rules", "cannot read the policy rules file " + rules_path.string());
  std::stringstream text;
  text << in.rdbuf();
  json parsed = json::parse(text.str(), nullptr, false);
  if (parsed.is_discarded()) throw InvalidArgument("policy_rules", rules_path.string() + " is not valid JSON");
  return from_json(parsed);
}

const std::string& Policy::version() const { return rules_->version; }

std::string Policy::public_figure_named(const std::string& text) const {
  Prompt prompt;
  prompt.tokens = tokenize(text);
  prompt.folded = fold_text(text);
  for (const auto& figure : rules_->figures)
    if (!first_match(figure.names, rules_->figure_unless, prompt, rules_->never_fuzzy).empty()) return figure.name;
  return "";
}

std::vector<std::string> Policy::rule_ids() const {
  std::vector<std::string> ids = {"cameo_not_found", "too_many_cameos", "cameo_not_allowed", "input_reference_face",
                                  "public_figure", "cameo_restriction"};
  for (const auto& rule : rules_->content) ids.push_back(rule.id);
  return ids;
}

PolicyDecision Policy::decide(const PolicyRequest& request, const cameo::CameoRegistry* registry, DecisionLog* log) const {
  const Rules& rules = *rules_;
  auto finish = [&](PolicyDecision decision) {
    decision.rules_version = rules.version;
    if (log) log->record(request, decision);
    return decision;
  };

  // 1. The cameos: every @handle in the prompt and every listed id must exist and be usable now.
  std::vector<cameo::Cameo> cameos;
  std::vector<std::string> params;
  for (const auto& handle : cameo::mentioned_handles(request.prompt)) {
    std::optional<cameo::Cameo> found = registry ? registry->find_by_handle(handle) : std::nullopt;
    if (!found)
      return finish(refuse("cameo_not_found", "cameo_not_found", "prompt",
                           replace_all(rules.unknown_cameo_message, "{handle}", "@" + handle), {"@" + handle}));
    if (std::none_of(cameos.begin(), cameos.end(), [&](const cameo::Cameo& c) { return c.id == found->id; })) {
      cameos.push_back(*found);
      params.push_back("prompt");
    }
  }
  for (const auto& id : request.cameo_ids) {
    std::optional<cameo::Cameo> found;
    if (registry) try {
        found = registry->get(id);
      } catch (const cameo::CameoNotFound&) {
      }
    if (!found)
      return finish(refuse("cameo_not_found", "cameo_not_found", "characters",
                           replace_all(rules.unknown_cameo_message, "{handle}", id.substr(0, 64)), {id.substr(0, 64)}));
    if (std::none_of(cameos.begin(), cameos.end(), [&](const cameo::Cameo& c) { return c.id == found->id; })) {
      cameos.push_back(*found);
      params.push_back("characters");
    }
  }
  if (cameos.size() > cameo::kMaxCameosPerVideo) {
    std::vector<std::string> handles;
    for (const auto& c : cameos) handles.push_back("@" + c.handle);
    return finish(refuse("too_many_cameos", "too_many_cameos", params.back(),
                         replace_all(rules.too_many_message, "{count}", std::to_string(cameos.size())), handles));
  }
  for (size_t i = 0; i < cameos.size(); ++i) {
    const cameo::UseDecision use = registry->may_use(request.requester, cameos[i]);
    if (!use.allowed)
      return finish(refuse("cameo_not_allowed", use.code, params[i], replace_all(rules.cameo_message, "{reason}", use.reason),
                           {"@" + cameos[i].handle}));
  }

  // 2. A real face in the input image needs a person's cameo in the request.
  const bool person_cameo = std::any_of(cameos.begin(), cameos.end(), [](const cameo::Cameo& c) {
    return c.kind == cameo::CameoKind::person;
  });
  if (request.input_image_shows_face && !person_cameo)
    return finish(refuse("input_reference_face", "input_reference_face", "input_reference", rules.face_message, {}));

  Prompt prompt;
  const std::string text = without_mentions(request.prompt);
  prompt.tokens = tokenize(text);
  prompt.folded = fold_text(text);

  // 3. Named real people appear only through a cameo of theirs the requester may use.
  for (const auto& figure : rules.figures) {
    const std::string named = first_match(figure.names, rules.figure_unless, prompt, rules.never_fuzzy);
    if (named.empty()) continue;
    const bool through_cameo = std::any_of(cameos.begin(), cameos.end(), [&](const cameo::Cameo& c) {
      if (c.kind != cameo::CameoKind::person) return false;
      Prompt display;
      display.tokens = tokenize(c.display_name);
      display.folded = fold_text(c.display_name);
      return !first_match(figure.names, {}, display, {}).empty();
    });
    if (!through_cameo)
      return finish(refuse("public_figure", rules.figure_code, "prompt", replace_all(rules.figure_message, "{name}", named),
                           {named}));
  }

  // 4. Each cameo owner's restrictions bind everyone but the owner.
  for (const auto& cameo : cameos) {
    if (cameo.owner == request.requester) continue;
    for (const auto& restriction : cameo.restrictions) {
      Prompt words;
      words.tokens = tokenize(restriction);
      words.folded = fold_text(restriction);
      std::vector<Term> banned;
      for (const auto& topic : rules.topics)
        if (!first_match(topic.triggers, {}, words, {}).empty()) banned.insert(banned.end(), topic.terms.begin(), topic.terms.end());
      // Quoted words are banned as written: never make me say "banana".
      for (char quote : {'"', '\''}) {
        for (size_t open = restriction.find(quote); open != std::string::npos;) {
          const size_t close = restriction.find(quote, open + 1);
          if (close == std::string::npos) break;
          if (close > open + 1 && (quote == '"' || close - open < 40)) {
            try {
              banned.push_back(make_term(restriction.substr(open + 1, close - open - 1), "restriction"));
            } catch (const InvalidArgument&) {
            }
          }
          open = restriction.find(quote, close + 1);
        }
      }
      if (banned.empty())  // no known topic: the restriction's own content words
        for (const auto& token : words.tokens)
          if (token.text.size() >= 4 && !rules.restriction_stopwords.count(token.text))
            banned.push_back(make_term(token.text, "restriction"));
      const std::string hit = first_match(banned, {}, prompt, rules.never_fuzzy);
      if (!hit.empty()) {
        std::string message = replace_all(rules.restriction_message, "{handle}", "@" + cameo.handle);
        message = replace_all(message, "{restriction}", restriction);
        message = replace_all(message, "{matched}", hit);
        return finish(refuse("cameo_restriction", "cameo_restriction", "prompt", message, {hit, "@" + cameo.handle}));
      }
    }
  }

  // 5. Content rules, highest precedence first.
  for (const auto& rule : rules.content) {
    std::vector<std::string> matched;
    for (const auto& group : rule.all_of) {
      std::string hit = first_match(group.terms, rule.unless, prompt, rules.never_fuzzy);
      if (hit.empty() && group.ages_below > 0) hit = age_below(group.ages_below, prompt);
      if (hit.empty()) {
        matched.clear();
        break;
      }
      matched.push_back(hit);
    }
    if (!matched.empty()) {
      std::string joined;
      for (const auto& m : matched) joined += (joined.empty() ? "" : "\", \"") + m;
      return finish(refuse(rule.id, rule.code, rule.param, replace_all(rule.message, "{matched}", joined), matched));
    }
  }

  PolicyDecision allowed;
  allowed.cameos = std::move(cameos);
  return finish(std::move(allowed));
}

int http_status(const PolicyDecision& decision) {
  if (decision.allowed) return 200;
  return decision.rule == "cameo_not_allowed" ? 403 : 400;
}

json openai_error(const PolicyDecision& decision) {
  return {{"error",
           {{"message", decision.message},
            {"type", "invalid_request_error"},
            {"param", decision.param.empty() ? json() : json(decision.param)},
            {"code", decision.code}}}};
}

JsonLinesDecisionLog::JsonLinesDecisionLog(std::filesystem::path path) : path_(std::move(path)) {}

json JsonLinesDecisionLog::entry(const PolicyRequest& request, const PolicyDecision& decision, int64_t now) {
  json cameo_ids = json::array();
  for (const auto& c : decision.cameos) cameo_ids.push_back(c.id);
  return {{"time", now},
          {"stage", request.stage},
          {"requester", request.requester},
          {"allowed", decision.allowed},
          {"rule", decision.rule},
          {"code", decision.code},
          {"param", decision.param},
          {"matched", decision.matched},
          {"cameos", cameo_ids},
          {"rules_version", decision.rules_version},
          {"prompt_sha256", cameo::merkle::to_hex(cameo::merkle::sha256(
                                std::span(reinterpret_cast<const uint8_t*>(request.prompt.data()), request.prompt.size())))}};
}

void JsonLinesDecisionLog::record(const PolicyRequest& request, const PolicyDecision& decision) {
  const std::string line = entry(request, decision, int64_t(std::time(nullptr))).dump() + "\n";
  std::lock_guard lock(mutex_);
  std::ofstream out(path_, std::ios::app | std::ios::binary);
  if (!out) throw IoError("cannot write the policy decision log " + path_.string());
  out << line;
  if (!out.flush()) throw IoError("cannot write the policy decision log " + path_.string());
}

}  // namespace opsis::policy
