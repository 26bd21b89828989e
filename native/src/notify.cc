// sd_notify(3)'s protocol, as its NOTES section describes it: a SOCK_DGRAM AF_UNIX socket, one
// sendto of the whole message to $NOTIFY_SOCKET (a path, or '@name' for the abstract namespace),
// close. No credentials passing, no fd store: slowshake sends READY, WATCHDOG, STATUS, STOPPING.
#include "notify.h"

#include <errno.h>       // errno
#include <string.h>      // memcpy, strerror
#include <sys/socket.h>  // socket, sendto, AF_UNIX, SOCK_DGRAM, SOCK_CLOEXEC, MSG_NOSIGNAL
#include <sys/un.h>      // sockaddr_un
#include <unistd.h>      // close

#include <cstddef>  // offsetof

std::string SdNotify(const std::string& socket_path, const std::string& message) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() < 2 || (socket_path[0] != '/' && socket_path[0] != '@')) {
    return "NOTIFY_SOCKET is not an absolute path or an @abstract name: " + socket_path;
  }
  if (socket_path.size() >= sizeof(addr.sun_path)) return "NOTIFY_SOCKET is too long: " + socket_path;
  memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  // An abstract address is exactly as long as its name; a path includes its terminating NUL.
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size() + (socket_path[0] == '@' ? 0 : 1));
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket(AF_UNIX, SOCK_DGRAM): ") + strerror(errno);
  const ssize_t n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  close(fd);
  if (n < 0) return "sendto " + socket_path + ": " + strerror(err);
  if (static_cast<size_t>(n) != message.size()) return "sendto " + socket_path + ": short datagram";
  return "";
}
