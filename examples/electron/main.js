// Electron main process: the recommended pattern. (Not run by the test suite: Electron's installer
// downloads a binary, which this project's CI cannot do. spec/electron.spec.ts tests the same
// transports against Electron's documented interfaces.)
import { app, BrowserWindow, MessageChannelMain } from 'electron'
import { fileURLToPath } from 'node:url'
import { createPeer, MessagePortMainTransport } from 'treerpc'

const mainApi = {
  fs: { home: () => app.getPath('home') },
  app: { version: () => app.getVersion() },
}

app.whenReady().then(async () => {
  const win = new BrowserWindow({
    webPreferences: {
      preload: fileURLToPath(new URL('./preload.cjs', import.meta.url)),
      contextIsolation: true, // required: the page never sees Node or ipcRenderer
      sandbox: true,
      nodeIntegration: false,
    },
  })
  await win.loadFile(fileURLToPath(new URL('./index.html', import.meta.url)))

  // One private channel per window; port2 goes to the renderer through the preload.
  const { port1, port2 } = new MessageChannelMain()
  win.webContents.postMessage('treerpc:port', null, [port2])
  const renderer = createPeer(new MessagePortMainTransport(port1), { expose: mainApi })
  win.webContents.once('destroyed', () => renderer.close())

  await renderer.ready
  console.log('renderer title:', await renderer.remote.page.title())
})
