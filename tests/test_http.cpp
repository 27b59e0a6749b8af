// lib/net/http: the one libcurl wrapper KDS and the upstream share.
#include <doctest/doctest.h>

#include <functional>

#include "net/http.hpp"
#include "support/support.hpp"

using namespace confer;

namespace {

// One request to a loopback server answering `status` with `body`, capped as `tune` says.
Result<net::HttpResponse> fetch(int status, Bytes body, const std::function<void(net::HttpRequest&)>& tune) {
  test::LoopbackHttp server(status, std::move(body));
  net::HttpRequest request;
  request.url = server.base_url() + "/thing";
  tune(request);
  return net::http_request(request);
}

}  // namespace

TEST_CASE("http: a body within the cap arrives whole, and one byte over is a clear error") {
  auto ok = fetch(200, Bytes(1000, 'x'), [](net::HttpRequest& r) { r.max_body = 1000; });
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  CHECK(ok->body == std::string(1000, 'x'));
  auto over = fetch(200, Bytes(1000, 'x'), [](net::HttpRequest& r) { r.max_body = 999; });
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Errc::protocol);
  CHECK(over.error().message.find("at most 999 bytes") != std::string::npos);
}

TEST_CASE("http: another status keeps only a bounded prefix and is the caller's to name") {
  auto r = fetch(500, Bytes(10000, 'e'), [](net::HttpRequest& req) { req.max_error_body = 16; });
  REQUIRE(r.ok());
  CHECK(r->status == 500);
  CHECK(r->body == std::string(16, 'e'));
}

TEST_CASE("http: streaming stops when the consumer says so, and a refused connection is a network error") {
  test::LoopbackHttp server(200, Bytes(5000, 's'));
  net::HttpRequest request;
  request.url = server.base_url() + "/";
  size_t seen = 0;
  request.on_body = [&](std::string_view piece) {
    seen += piece.size();
    return false;
  };
  auto r = net::http_request(request);
  REQUIRE(r.ok());
  CHECK(r->stopped);
  CHECK(seen > 0);
  CHECK(r->body.empty());

  net::HttpRequest refused;
  refused.url = "http://127.0.0.1:1/";
  refused.connect_timeout_s = 2;
  auto e = net::http_request(refused);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == Errc::network);
  CHECK(e.error().message.find("127.0.0.1:1") != std::string::npos);

  net::HttpRequest bad_method;
  bad_method.url = refused.url;
  bad_method.method = "DELETE";
  auto m = net::http_request(bad_method);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().message.find("GET or POST, saw DELETE") != std::string::npos);
}
