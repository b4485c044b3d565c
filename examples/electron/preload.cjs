// Preload (contextIsolation on): hands the MessagePort from main to the page and nothing else.
// The page gets a port, never ipcRenderer.
const { ipcRenderer } = require('electron')

ipcRenderer.once('treerpc:port', (event) => {
  window.postMessage('treerpc:port', window.location.origin, event.ports)
})
