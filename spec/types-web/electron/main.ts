// Electron's main process, typed by electron.d.ts: MessageChannelMain ports, ipcMain and a
// window's webContents fit treerpc's Electron transports with no cast.
import { BrowserWindow, ipcMain, MessageChannelMain, type IpcMainEvent, type MessagePortMain, type WebContents } from 'electron'
import {
  createPeer,
  IpcMainTransport,
  MessagePortMainTransport,
  type IpcMainEventLike,
  type IpcMainLike,
  type MessagePortMainLike,
  type WebContentsLike,
} from 'treerpc'

const win = new BrowserWindow()
const { port1, port2 } = new MessageChannelMain()
win.webContents.postMessage('treerpc:port', null, [port2])
createPeer(new MessagePortMainTransport(port1))

const port: MessagePortMain = port2
createPeer(new MessagePortMainTransport(port))

const webContents: WebContents = win.webContents
createPeer(new IpcMainTransport({ ipcMain, webContents, channel: 'treerpc' }))

// Each real Electron type fits the structural interface treerpc declares for it.
export const portLike: MessagePortMainLike = port1
export const ipcMainLike: IpcMainLike = ipcMain
export const webContentsLike: WebContentsLike = webContents
export const eventLike = (event: IpcMainEvent): IpcMainEventLike => event

// The check is real: what is not an ipcMain does not compile.
// @ts-expect-error a number is not an ipcMain
new IpcMainTransport({ ipcMain: 42, webContents })
