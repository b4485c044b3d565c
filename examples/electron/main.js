// Electron main process: the recommended pattern. Run: `npm run example:electron`, then
// `npx electron examples/electron/main.js` (with Electron's binary installed). Not run by the test
// suite (Electron's installer downloads a binary, which this project's CI cannot do), but
// type-checked against electron.d.ts (examples/electron/tsconfig.json, spec/web-types.spec.ts);
// spec/electron.spec.ts tests the same transports against Electron's documented interfaces.
import { app, BrowserWindow, MessageChannelMain } from 'electron'
import { fileURLToPath } from 'node:url'
import { createPeer, MessagePortMainTransport } from 'treerpc'

/** What main exposes to the page (the page types its peer with it). */
export const mainApi = {
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
  /** @type {import('treerpc').Peer<import('./renderer.js').PageApi>} */
  const renderer = createPeer(new MessagePortMainTransport(port1), { expose: mainApi })
  win.webContents.once('destroyed', () => renderer.close())

  await renderer.ready
  console.log('renderer title:', await renderer.remote.page.title())
})
