/**
 * The `browser` workload: treerpc's bundle (`dist/browser/treerpc.js`) in a real Chromium, a page
 * calling a dedicated module worker, against a raw `postMessage` echo to another worker of the same
 * page. The measuring loops run inside the page (`page.evaluate`), so Node and the DevTools protocol
 * are not part of any timed call; Node only receives each round's numbers.
 *
 * Chromium's `performance.now()` is coarse outside cross-origin-isolated pages (100 µs steps), so
 * each round times a whole run of calls and reports the time per call, never single calls.
 */
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const CHROMIUM = process.env.TREERPC_CHROMIUM ?? '/usr/bin/chromium'
/** The flags a closed-network machine needs: no background connections, a fresh profile (playwright's). */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const BUNDLE = fileURLToPath(new URL('../browser/treerpc.js', import.meta.url))

export interface BrowserSize {
  rounds: number
  warm: number
  /** Sequential calls per round. */
  latency: number
  /** Calls per round, `depth` in flight. */
  throughput: number
  depth: number
  /** The small value every call echoes. */
  value: unknown
}

/** One round of one contender: µs per call, sequential and with `depth` in flight. */
export interface BrowserRound {
  latency: number
  perCall: number
}

/** Per contender, its rounds: the raw echo, the raw echo in a JSON-RPC envelope (a yardstick), treerpc. */
export type BrowserResult = { skipped: string } | { version: string; raw: BrowserRound[]; envelope: BrowserRound[]; treerpc: BrowserRound[] }

/** The browser's Worker, as far as the page code below uses it (this file compiles without the DOM types). */
interface PageWorker {
  postMessage(message: unknown): void
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void
  terminate(): void
}
declare const Worker: new (url: string, options: { type: 'module' }) => PageWorker

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>treerpc bench</title>`

/** The raw limit: echoes `{ id, a }` (or a JSON-RPC request) as is; the page matches replies to calls by id. */
const RAW_WORKER = `self.addEventListener('message', (event) => self.postMessage(event.data))`

const TREERPC_WORKER = `
import { createPeer, MessagePortTransport } from '/treerpc.js'
createPeer(new MessagePortTransport(self, { ownsPort: false }), { expose: { echo: (value) => value } })
`

/** Runs in the page: starts both workers, warms up, then interleaved rounds; returns µs per call. */
async function measureInPage(size: BrowserSize): Promise<{ raw: BrowserRound[]; envelope: BrowserRound[]; treerpc: BrowserRound[] }> {
  const { createPeer, MessagePortTransport } = await import('/treerpc.js' as string)
  const rawWorker = new Worker('/raw-worker.js', { type: 'module' })
  const pending = new Map<number, (value: unknown) => void>()
  rawWorker.addEventListener('message', (event) => {
    const resolve = pending.get(event.data.id)
    pending.delete(event.data.id)
    resolve?.(event.data.a ?? event.data.params?.[0])
  })
  let nextId = 0
  const raw = (value: unknown): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++nextId
      pending.set(id, resolve)
      rawWorker.postMessage({ id, a: value })
    })
  const envelope = (value: unknown): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++nextId
      pending.set(id, resolve)
      rawWorker.postMessage({ jsonrpc: '2.0', id, method: 'echo', params: [value] })
    })
  const treerpcWorker = new Worker('/treerpc-worker.js', { type: 'module' })
  const peer = createPeer(new MessagePortTransport(treerpcWorker, { ownsPort: false }))
  await peer.ready
  const treerpc = (value: unknown): Promise<unknown> => peer.remote.echo(value)

  const sequential = async (call: (value: unknown) => Promise<unknown>, count: number): Promise<number> => {
    const start = performance.now()
    for (let i = 0; i < count; i++) await call(size.value)
    return ((performance.now() - start) * 1000) / count
  }
  const inFlight = async (call: (value: unknown) => Promise<unknown>, count: number): Promise<number> => {
    const start = performance.now()
    let started = 0
    let finished = 0
    await new Promise<void>((resolve, reject) => {
      const next = (): void => {
        if (started >= count) return
        started++
        call(size.value).then(() => {
          if (++finished === count) resolve()
          else next()
        }, reject)
      }
      for (let i = 0; i < size.depth; i++) next()
    })
    return ((performance.now() - start) * 1000) / count
  }

  const contenders = { raw, envelope, treerpc }
  const names = ['raw', 'envelope', 'treerpc'] as const
  const results = { raw: [] as BrowserRound[], envelope: [] as BrowserRound[], treerpc: [] as BrowserRound[] }
  for (const name of names) {
    await sequential(contenders[name], size.warm)
    await inFlight(contenders[name], size.warm * 2)
  }
  for (let round = 0; round < size.rounds; round++) {
    // Each round starts one contender later (A B C, B C A, C A B), as in the other workloads.
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length]!
      const latency = await sequential(contenders[name], size.latency)
      const perCall = await inFlight(contenders[name], size.throughput)
      results[name].push({ latency, perCall })
    }
  }
  await peer.close()
  rawWorker.terminate()
  treerpcWorker.terminate()
  return results
}

/** Launches Chromium, serves the bundle and the two workers from 127.0.0.1, and measures. */
export async function runBrowserBench(size: BrowserSize): Promise<BrowserResult> {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM} (Debian/Ubuntu: apt-get install chromium)` }
  if (!existsSync(BUNDLE)) return { skipped: `${BUNDLE} is missing (npm run build makes it)` }
  const files: Record<string, [string, string | Buffer]> = {
    '/index.html': ['text/html', PAGE],
    '/treerpc.js': ['text/javascript', readFileSync(BUNDLE)],
    '/raw-worker.js': ['text/javascript', RAW_WORKER],
    '/treerpc-worker.js': ['text/javascript', TREERPC_WORKER],
  }
  const server = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://localhost').pathname]
    if (file === undefined) return void response.writeHead(404).end()
    response.writeHead(200, { 'content-type': `${file[0]}; charset=utf-8` }).end(file[1])
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  try {
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html`)
    const results = await page.evaluate(measureInPage, size)
    return { version: browser.version(), ...results }
  } finally {
    await browser.close()
    server.closeAllConnections()
    server.close()
  }
}
