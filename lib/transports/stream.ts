import type { Readable, Writable } from 'node:stream'
import { ErrorCode, RpcError } from '../errors.js'
import { BaseTransport } from './base.js'

export interface StreamTransportOptions {
  /** Largest message accepted or sent, in bytes of JSON. Default 64 MiB. */
  maxMessageSize?: number
  /** Largest header block accepted, in bytes. Default 8 KiB. */
  maxHeaderSize?: number
}

const SEPARATOR = Buffer.from('\r\n\r\n')

/**
 * JSON-RPC over a byte stream pair (a child's stdio, a `net.Socket`, a Unix socket or named pipe),
 * framed as in LSP: `Content-Length: N\r\n\r\n` then N bytes of UTF-8 JSON. This is what
 * vscode-jsonrpc's StreamMessageReader/Writer speak.
 *
 * Robust to frames split across chunks or merged into one, in time linear in the bytes received
 * however small the chunks. A frame over `maxMessageSize`, a header block without a valid
 * Content-Length, or a body that is not JSON cannot be resynchronised: the transport closes with an
 * RpcError saying which (`RPC_MESSAGE_TOO_LARGE` or `RPC_INVALID_REQUEST`), and never buffers more
 * than one frame. Sending a message over the limit throws `RPC_MESSAGE_TOO_LARGE` and fails only
 * that call.
 */
export class StreamTransport extends BaseTransport {
  readonly capabilities = { structuredClone: false, transfer: false }
  readonly #input: Readable
  readonly #output: Writable
  readonly #maxMessageSize: number
  readonly #maxHeaderSize: number
  /**
   * Bytes received and not yet consumed, as the chunks they came in. Concatenating each chunk onto
   * all the bytes before it made a frame in small chunks quadratic (issue 8: 9 s for 4 MiB in
   * 256-byte chunks), so a body is concatenated once, when all its bytes are there.
   */
  #chunks: Buffer[] = []
  /** Total length of `#chunks`. */
  #buffered = 0
  /** Body length of the frame being read, or -1 while reading headers. */
  #bodyLength = -1

  constructor(input: Readable, output: Writable, options: StreamTransportOptions = {}) {
    super()
    this.#input = input
    this.#output = output
    this.#maxMessageSize = options.maxMessageSize ?? 64 * 1024 * 1024
    this.#maxHeaderSize = options.maxHeaderSize ?? 8 * 1024
    input.on('data', this.#data)
    input.on('end', this.#ended)
    input.on('close', this.#ended)
    input.on('error', this.#failed)
    output.on('error', this.#failed)
    output.on('close', this.#ended)
  }

  send(message: unknown): void {
    if (this.closed) return
    const body = JSON.stringify(message)
    const length = Buffer.byteLength(body, 'utf8')
    if (length > this.#maxMessageSize) {
      throw new RpcError(`Message of ${length} bytes exceeds maxMessageSize (${this.#maxMessageSize} bytes)`, ErrorCode.MessageTooLarge)
    }
    this.#output.write(`Content-Length: ${length}\r\n\r\n${body}`)
  }

  readonly #data = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    this.#chunks.push(bytes)
    this.#buffered += bytes.length
    while (!this.closed) {
      if (this.#bodyLength < 0) {
        // A header block may be at most maxHeaderSize bytes, so the separator, which may straddle
        // chunks, is looked for in that much and no more: gathering it costs little per chunk.
        const window = this.#maxHeaderSize + SEPARATOR.length
        const head = this.#peek(Math.min(this.#buffered, window))
        const end = head.indexOf(SEPARATOR)
        if (end === -1) {
          if (head.length === window) return this.#protocolError('Header block too long or missing its blank line', ErrorCode.InvalidRequest)
          return
        }
        const length = parseContentLength(head.subarray(0, end).toString('ascii'))
        if (length === undefined) return this.#protocolError('Frame without a valid Content-Length header', ErrorCode.InvalidRequest)
        if (length > this.#maxMessageSize) {
          return this.#protocolError(`Incoming frame of ${length} bytes exceeds maxMessageSize (${this.#maxMessageSize} bytes)`, ErrorCode.MessageTooLarge)
        }
        this.#bodyLength = length
        this.#take(end + SEPARATOR.length)
      }
      if (this.#buffered < this.#bodyLength) return
      const body = this.#take(this.#bodyLength).toString('utf8')
      this.#bodyLength = -1
      let message: unknown
      try {
        message = JSON.parse(body)
      } catch {
        return this.#protocolError('Frame body is not valid JSON', ErrorCode.InvalidRequest)
      }
      this.receive(message)
    }
  }

  /** The first `length` buffered bytes, without consuming them: a view when one chunk holds them, else a copy. */
  #peek(length: number): Buffer {
    const first = this.#chunks[0]
    return first !== undefined && first.length >= length ? first.subarray(0, length) : Buffer.concat(this.#chunks, length)
  }

  /** Consumes the first `length` buffered bytes: a view when one chunk holds them, else one copy. */
  #take(length: number): Buffer {
    let count = 0
    let covered = 0
    while (covered < length) covered += this.#chunks[count++]!.length
    const taken = this.#chunks.splice(0, count)
    const rest = covered - length
    if (rest > 0) {
      // The last chunk taken also holds the start of what follows: put that part back.
      const last = taken[count - 1]!
      taken[count - 1] = last.subarray(0, last.length - rest)
      this.#chunks.unshift(last.subarray(last.length - rest))
    }
    this.#buffered -= length
    return count === 1 ? taken[0]! : Buffer.concat(taken, length)
  }

  readonly #ended = (): void => {
    this.end({ reason: 'the stream ended' })
  }

  readonly #failed = (error: unknown): void => {
    this.end({ reason: 'the stream failed', error })
  }

  #protocolError(message: string, code: string): void {
    this.end({ reason: message, error: new RpcError(message, code) })
  }

  /** Stops reading and ends the output (after what was written is flushed). */
  protected release(): void {
    this.#chunks = []
    this.#buffered = 0
    this.#input.off('data', this.#data)
    this.#input.off('end', this.#ended)
    this.#input.off('close', this.#ended)
    this.#output.off('close', this.#ended)
    // 'error' listeners stay: an unhandled stream error would crash the process after close.
    if (this.#input === (this.#output as unknown)) {
      // One duplex (a socket): end our half, then let go of the whole of it.
      this.#output.end(() => this.#input.destroy())
    } else {
      // Separate streams (a child's stdio): stop reading without destroying process.stdin.
      this.#input.pause()
      this.#output.end()
    }
  }
}

/** Reads `Content-Length` from a header block (other headers, such as Content-Type, are allowed). */
function parseContentLength(headers: string): number | undefined {
  let length: number | undefined
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon === -1) return undefined
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue
    const value = line.slice(colon + 1).trim()
    if (!/^\d{1,12}$/.test(value)) return undefined
    length = Number(value)
  }
  return length
}
