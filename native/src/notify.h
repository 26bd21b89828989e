// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET.
#ifndef SLOWSHAKE_NOTIFY_H_
#define SLOWSHAKE_NOTIFY_H_

#include <string>  // std::string

// Sends `message` ("READY=1\nSTATUS=…") as one datagram to the AF_UNIX socket `socket_path`;
// a leading '@' names an abstract socket (the '@' becomes a NUL byte). Returns "" on success,
// else the failure with its context ("sendto /run/systemd/notify: Connection refused").
// Thread-safe: no shared state; any thread may call it.
std::string SdNotify(const std::string& socket_path, const std::string& message);

#endif  // SLOWSHAKE_NOTIFY_H_
