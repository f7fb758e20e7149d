// How the browser tests and the benchmark launch the machine's Chromium (browser
// downloads are impossible here). Without the background-networking flags Chromium keeps
// trying hosts this machine cannot reach.
module.exports = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};
