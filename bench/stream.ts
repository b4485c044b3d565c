/**
 * The `stream` workload: the cost of reassembling one large Content-Length frame in StreamTransport
 * when it arrives in many small chunks, against the same frame arriving in one chunk (issue 8).
 *
 * In-process, no socket or pipe: the test side emits 'data' on a bare Readable, which is all the
 * transport listens to, so the numbers are the transport's reading path (reassembly, UTF-8 decoding,
 * JSON.parse) and not the stream machinery's cost per chunk.
 */
import { Readable, Writable } from 'node:stream'
import { StreamTransport } from '../lib/index.js'
import type { Entry } from './harness.js'
import { now } from './harness.js'

type Metrics = Record<string, number>

/**
 * One notification framed as on the wire, `frameBytes` long in all (header included), whose only
 * parameter is a string of 'x': decoding and parsing it, paid alike by both rows, stay cheap next to
 * a reassembly that copies too much.
 */
function makeFrame(frameBytes: number): { frame: Buffer; textLength: number } {
  const empty = JSON.stringify({ jsonrpc: '2.0', method: 'sink', params: [''] })
  const header = (bodyLength: number): string => `Content-Length: ${bodyLength}\r\n\r\n`
  const textLength = frameBytes - empty.length - header(frameBytes).length
  const body = JSON.stringify({ jsonrpc: '2.0', method: 'sink', params: ['x'.repeat(textLength)] })
  const frame = Buffer.from(header(body.length) + body, 'utf8')
  return { frame, textLength }
}

/**
 * Feeds `chunks` (one frame) to a fresh transport `frames` times, for at least `minMs`; returns the time
 * per frame. Each frame must arrive whole, or the round fails.
 */
function feed(chunks: readonly Buffer[], frameBytes: number, textLength: number, minCount: number, minMs: number): Metrics {
  const input = new Readable({ read() {} })
  const output = new Writable({ write: (_chunk, _encoding, done) => done() })
  const transport = new StreamTransport(input, output, { maxMessageSize: frameBytes })
  let received = 0
  transport.onMessage((message) => {
    const text = (message as { params?: unknown[] }).params?.[0]
    if (typeof text !== 'string' || text.length !== textLength) throw new Error('the frame arrived altered')
    received++
  })
  const start = now()
  let frames = 0
  try {
    while (frames < minCount || now() - start < minMs) {
      for (const chunk of chunks) input.emit('data', chunk)
      if (received !== ++frames) throw new Error(`frame ${frames} did not arrive once all its chunks had`)
    }
  } finally {
    transport.close()
  }
  const ms = now() - start
  return { perFrame: ms / frames, rate: (frameBytes * frames) / 1e6 / (ms / 1000) }
}

/**
 * Two entries over the same frame: in `chunkBytes` chunks, and in one chunk (the denominator, marked
 * raw). Labels start with "treerpc" so that the summary and the exit code count them.
 */
export function streamEntries(frameBytes: number, chunkBytes: number, minCount: number, minMs: number): Entry<Metrics>[] {
  const { frame, textLength } = makeFrame(frameBytes)
  const chunks: Buffer[] = []
  for (let offset = 0; offset < frame.length; offset += chunkBytes) chunks.push(frame.subarray(offset, offset + chunkBytes))
  const entry = (label: string, list: readonly Buffer[], note: string, raw: boolean): Entry<Metrics> => ({
    label,
    raw,
    note,
    warmup: async () => void feed(list, frameBytes, textLength, 1, 0),
    measure: async () => feed(list, frameBytes, textLength, minCount, minMs),
  })
  return [
    entry(`treerpc, ${chunkBytes}-byte chunks`, chunks, `${chunks.length.toLocaleString('en-US')} chunks`, false),
    entry('treerpc, one write', [frame], 'the whole frame as one chunk', true),
  ]
}
