#include "net/http.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include <curl/curl.h>

#include <fmt/format.h>

#include <memory>

namespace confer::net {

namespace {

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

bool curl_ready() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ok;
}

struct Transfer {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  bool overflow = false;
  bool idle_expired = false;
  std::chrono::steady_clock::time_point last_byte = std::chrono::steady_clock::now();
};

// The idle timeout is kept here rather than by CURLOPT_LOW_SPEED_*, whose averaging
// let a 10 s setting fire after 17 s: the transfer ends within about a second of the
// setting (curl calls back at least once a second).
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->idle_timeout_s > 0 &&
      std::chrono::steady_clock::now() - t->last_byte >= std::chrono::seconds(t->request->idle_timeout_s)) {
    t->idle_expired = true;
    return 1;
  }
  if (t->request->keep_going && !t->request->keep_going()) {
    t->response->stopped = true;
    return 1;
  }
  return 0;
}

size_t on_data(char* ptr, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  t->last_byte = std::chrono::steady_clock::now();
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  std::string& body = t->response->body;
  if (status != 200) {  // keep a bounded prefix, for the caller's message
    size_t room = t->request->max_error_body > body.size() ? t->request->max_error_body - body.size() : 0;
    body.append(ptr, std::min(room, len));
    return len;
  }
  if (t->request->on_body) {
    if (t->request->on_body(std::string_view(ptr, len))) return len;
    t->response->stopped = true;
    return 0;  // curl then ends the transfer
  }
  if (body.size() + len > t->request->max_body) {
    t->overflow = true;
    return 0;
  }
  body.append(ptr, len);
  return len;
}

size_t on_header(char* ptr, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  t->last_byte = std::chrono::steady_clock::now();
  std::string_view line(ptr, len);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100-continue)
    t->response->headers.clear();
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  const auto& keep = t->request->keep_headers;
  if (std::find(keep.begin(), keep.end(), name) == keep.end()) return len;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  if (value.size() > (64u << 10)) return 0;  // ends the transfer
  t->response->headers[name] = std::string(value);
  return len;
}

void set_options(CURL* curl, const HttpRequest& r, curl_slist* headers, Transfer& t, char* errbuf) {
  curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
  if (r.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  }
  if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (!r.keep_headers.empty()) {
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  }
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, r.connect_timeout_s);
  if (r.total_timeout_s > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT, r.total_timeout_s);
  if (r.idle_timeout_s > 0 || r.keep_going) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  if (r.max_redirects > 0) {
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, r.max_redirects);
  }
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "confer/" CONFER_VERSION);
}

}  // namespace

Result<HttpResponse> http_request(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "POST")
    return make_error(Errc::internal, "http: expected method GET or POST, saw " + request.method);
  if (!curl_ready()) return make_error(Errc::internal, "libcurl failed to initialise");
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return make_error(Errc::internal, "libcurl: no handle");
  curl_slist* list = nullptr;  // curl_slist_append returns the head: the same list once it exists
  for (const auto& h : request.headers) {
    curl_slist* next = curl_slist_append(list, h.c_str());
    if (next == nullptr) {
      curl_slist_free_all(list);
      return make_error(Errc::internal, "libcurl: out of memory for headers");
    }
    list = next;
  }
  std::unique_ptr<curl_slist, CurlFree> headers(list);
  HttpResponse response;
  Transfer t{curl.get(), &request, &response};
  char errbuf[CURL_ERROR_SIZE] = {};
  set_options(curl.get(), request, headers.get(), t, errbuf);
  CURLcode rc = curl_easy_perform(curl.get());
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  if (response.stopped) return response;
  if (t.idle_expired && request.idle_expired != nullptr) *request.idle_expired = true;
  if (t.idle_expired)
    return make_error(Errc::network, fmt::format("{}: nothing received for {} s", request.url, request.idle_timeout_s));
  if (t.overflow)
    return make_error(Errc::protocol, fmt::format("{}: expected a response of at most {} bytes, saw more",
                                                  request.url, request.max_body));
  if (rc != CURLE_OK)
    return make_error(Errc::network,
                      fmt::format("{}: {}", request.url, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc)));
  return response;
}

}  // namespace confer::net
