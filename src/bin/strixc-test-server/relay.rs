//! `--relay-to PORT`: a byte relay to 127.0.0.1:PORT that does nothing but copy, each
//! direction on a thread of its own with a 64 KiB buffer. The gateway's benchmark measures
//! it as the least any proxy adds: the second TCP hop itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

pub fn main(listener: TcpListener, target: u16) -> ! {
    for client in listener.incoming().flatten() {
        std::thread::spawn(move || relay(client, target));
    }
    std::process::exit(1)
}

fn relay(client: TcpStream, target: u16) {
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let (Ok(client_in), Ok(upstream_out)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let requests = std::thread::spawn(move || copy(client_in, upstream_out));
    copy(upstream, client);
    let _ = requests.join();
}

/// Copies until `from` ends, then ends `to`'s writing side (the other end sees the end).
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = to.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
