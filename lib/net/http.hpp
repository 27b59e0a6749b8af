// The one libcurl wrapper: AMD KDS fetches and the server's model upstream both go
// through it. It initialises libcurl once per process, bounds what it keeps of a
// response, and never waits past its timeouts. HTTPS_PROXY / NO_PROXY are honoured
// (libcurl reads them).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"

namespace confer::net {

struct HttpRequest {
  std::string url;
  std::string method = "GET";         // "GET" or "POST"
  std::string body;                   // POST body
  std::vector<std::string> headers;   // "Name: value"
  size_t max_body = 1 << 20;          // a 200 body longer than this is an error
  size_t max_error_body = 4096;       // of any other status, a prefix this long is kept
  long connect_timeout_s = 10;
  long total_timeout_s = 0;           // 0: no overall limit
  long idle_timeout_s = 0;            // no byte for this long: give up (0: no limit)
  long max_redirects = 0;
  // Response headers to keep (lower-case names), each value bounded to 64 KiB.
  std::vector<std::string> keep_headers;
  // Streaming: a 200 response's body goes here piece by piece instead of into
  // HttpResponse::body; returning false ends the transfer (HttpResponse::stopped).
  std::function<bool(std::string_view)> on_body;
  // Asked while the transfer runs (whenever data arrives, and about once a second while
  // none does); returning false ends it (HttpResponse::stopped). For a caller's own
  // deadlines and for giving up when whoever wanted the answer has gone.
  std::function<bool()> keep_going;
  // Set to true when the idle timeout ended the transfer (so a caller can name its own option).
  bool* idle_expired = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::string body;      // the body (not streamed), or an error status's bounded prefix
  bool stopped = false;  // on_body or keep_going asked to stop
  std::map<std::string, std::string> headers;  // the kept ones, by lower-case name (final response)
};

// Errc::network for transport failures and timeouts; Errc::protocol for a 200 body
// over max_body. A non-200 status is not an error here: the caller names it.
Result<HttpResponse> http_request(const HttpRequest& request);

}  // namespace confer::net
