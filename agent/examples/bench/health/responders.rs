//! HTTP servers on port 80 of each real server's address, each stoppable: its port then
//! refuses, as a stopped server's does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lvs_testkit::Netns;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use super::lab::{real_server, REAL_SERVERS};

pub struct Responders {
    runtime: tokio::runtime::Handle,
    running: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Responders {
    pub fn start(ns: &Netns) -> Responders {
        let runtime = ns.enter(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let handle = runtime.handle().clone();
            // Its thread was started in the namespace and serves while the benchmark runs.
            std::mem::forget(runtime);
            handle
        });
        let responders = Responders {
            runtime,
            running: Mutex::default(),
        };
        for i in 0..REAL_SERVERS {
            responders.revive(ns, &real_server(i));
        }
        responders
    }

    /// Starts answering on `address` (again); the socket is made in `ns`, where the
    /// address is.
    pub fn revive(&self, ns: &Netns, address: &str) {
        let listen = format!("{address}:80");
        let listener = ns.enter(|| std::net::TcpListener::bind(&listen).unwrap());
        listener.set_nonblocking(true).unwrap();
        let _runtime = self.runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let task = self.runtime.spawn(serve(listener));
        self.running
            .lock()
            .unwrap()
            .insert(address.to_owned(), task);
    }

    /// Stops answering on `address`: its port refuses from now on.
    pub fn kill(&self, address: &str) {
        let Some(task) = self.running.lock().unwrap().remove(address) else {
            return;
        };
        task.abort();
        // The abort takes effect on the runtime's thread; the port closes with the task.
        let started = std::time::Instant::now();
        while !task.is_finished() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the responder on {address} does not stop"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

async fn serve(listener: tokio::net::TcpListener) {
    // The connections go with the listener when the responder stops, as a dead server's do.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // Out of descriptors for a moment is no reason to stop answering.
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(answer(stream));
    }
}

/// Answers each request of the connection: HTTP/1.0 ones then closes, HTTP/1.1 ones asking
/// for keep-alive on the same connection.
async fn answer(mut stream: tokio::net::TcpStream) {
    let mut request = Vec::with_capacity(1024);
    loop {
        request.clear();
        while !request.ends_with(b"\r\n\r\n") {
            match stream.read_buf(&mut request).await {
                Ok(0) | Err(_) => return,
                Ok(_) if request.len() > 8192 => return,
                Ok(_) => {}
            }
        }
        let keep_alive = request
            .windows(22)
            .any(|w| w.eq_ignore_ascii_case(b"connection: keep-alive"));
        let answer: &[u8] = if keep_alive {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        } else {
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        if stream.write_all(answer).await.is_err() || !keep_alive {
            return;
        }
    }
}
