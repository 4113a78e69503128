// Command templates: how a string becomes argv without a shell, and what placeholders become.
#include <catch2/catch.hpp>

#include "engine/command/template.hpp"

namespace cachestress::command {

TEST_CASE("templates split into words like a shell but run no shell", "[unit][command]") {
  using V = std::vector<std::string>;
  CHECK(split_words("buildah  build\t-f x").words == V{"buildah", "build", "-f", "x"});
  CHECK(split_words("sh -c 'echo $HOME > /x; exit 3'").words == V{"sh", "-c", "echo $HOME > /x; exit 3"});
  CHECK(split_words(R"(echo "a \"b\" \\ c" d\ e)").words == V{"echo", "a \"b\" \\ c", "d e"});
  CHECK(split_words("a'b'\"c\"").words == V{"abc"});
  CHECK(split_words("x '' y").words == V{"x", "", "y"});
  CHECK(split_words("a | b > c").words == V{"a", "|", "b", ">", "c"});  // no pipes, no redirections
  CHECK(split_words("   ").words.empty());
  CHECK_THAT(split_words("echo 'open").error, Catch::Contains("unterminated '"));
  CHECK_THAT(split_words("echo \"open").error, Catch::Contains("unterminated \""));
  CHECK_THAT(split_words("echo \\").error, Catch::Contains("backslash"));
}

TEST_CASE("placeholders expand inside each word and a value with spaces stays one word", "[unit][command]") {
  Values v;
  v.build = 12;
  v.kind = "writer";
  v.step = 1;
  v.token = token_for(12, "writer", 1);
  v.tmpdir = "/w/roots/b 12";
  v.workdir = "/w";
  const auto argv = expand_all(split_words("run --tmp={tmpdir} {workdir}/ctx/{kind}.{step} {token} b{build}").words, v);
  CHECK(argv == std::vector<std::string>{"run", "--tmp=/w/roots/b 12", "/w/ctx/writer.1", "cst:12:writer:1", "b12"});
  CHECK(v.token == "cst:12:writer:1");
}

TEST_CASE("braces that are not placeholders stay literal and typos are caught", "[unit][command]") {
  Values v;
  v.build = 3;
  CHECK(expand("{ echo a; } ${HOME} {{build}} }} {build}", v) == "{ echo a; } ${HOME} {build} } 3");
  CHECK_FALSE(placeholder_problem("sh -c '{ echo; }' ${HOME} {{x}}"));
  auto problem = placeholder_problem("{biuld}");
  REQUIRE(problem);
  CHECK_THAT(*problem, Catch::Contains("unknown placeholder {biuld}") && Catch::Contains("{build}"));
}

TEST_CASE("joined words split back into the same words", "[unit][command]") {
  const std::vector<std::string> words{"sh", "-c", "echo 'a' \"b\" \\", "", "plain", "it's"};
  CHECK(split_words(join_words(words)).words == words);
}

}  // namespace cachestress::command

namespace cachestress::command {

TEST_CASE("checks may use placeholders: has_placeholders and expand_regex escape the values", "[unit][command]") {
  CHECK(has_placeholders("built-{build}"));
  CHECK_FALSE(has_placeholders("a{2,3} {{build}} ${HOME}"));
  Values v{4, "k", 0, "cst:4:k:0", "/a.b", "", ""};
  CHECK(expand_regex("^{token} at {tmpdir}$", v) == "^cst:4:k:0 at /a\\.b$");
}

}  // namespace cachestress::command
