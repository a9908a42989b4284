//! A control-socket client: what `lvsdeck status`, `lvsdeck ctl` and the console use.

use std::io;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::protocol::{Request, Response};

pub struct Client {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
    /// Who the daemon says we are, and whether we may act.
    pub user: String,
    pub admin: bool,
}

impl Client {
    /// Connect and read the daemon's greeting.
    pub async fn connect(path: &Path) -> io::Result<Client> {
        let stream = UnixStream::connect(path).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("no lvsdeck daemon at {} ({e}); start one with `lvsdeck --daemon`, or give --socket", path.display()),
            )
        })?;
        let (read, write) = stream.into_split();
        let mut client = Client {
            lines: BufReader::new(read).lines(),
            write,
            user: String::new(),
            admin: false,
        };
        match client.recv().await? {
            Response::Hello { user, admin, .. } => {
                client.user = user;
                client.admin = admin;
                Ok(client)
            }
            other => Err(io::Error::other(format!(
                "unexpected greeting from the daemon: {other:?}"
            ))),
        }
    }

    pub async fn send(&mut self, request: &Request) -> io::Result<()> {
        let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
        line.push(b'\n');
        self.write.write_all(&line).await
    }

    /// The next response; an error when the daemon closed the connection.
    pub async fn recv(&mut self) -> io::Result<Response> {
        match self.lines.next_line().await? {
            Some(line) => serde_json::from_str(&line)
                .map_err(|e| io::Error::other(format!("unreadable response from the daemon: {e}"))),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            )),
        }
    }

    /// Send one request and read one response.
    pub async fn call(&mut self, request: &Request) -> io::Result<Response> {
        self.send(request).await?;
        self.recv().await
    }
}
