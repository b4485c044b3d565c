/**
 * Consumer-side type checks: small projects in spec/types-web/ (and examples/electron/) are
 * compiled with the local TypeScript against treerpc's built declarations, as a user's project
 * would be: a page under `lib: ["dom"]`, a dedicated worker under `lib: ["webworker"]`, and Electron
 * main and renderer code under Electron's own electron.d.ts. Each passes its ports to treerpc with
 * no cast, and each holds a `@ts-expect-error` line, so an unused directive (a check that no longer
 * checks anything) fails it too.
 */
import { expect } from 'chai'
import { execFile } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

/** Runs `tsc -p <project> --noEmit`; resolves with its exit code and output, never rejects. */
function typeCheck(project: string): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [tsc, '-p', join(root, project), '--noEmit'], { cwd: root }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      done({ code, output: `${stdout}${stderr}` })
    })
  })
}

const projects: Array<[string, string]> = [
  ['a page (lib: dom): MessageChannel ports, a Worker, an iframe\'s port, a SharedWorker\'s port', 'spec/types-web/page/tsconfig.json'],
  ['a dedicated worker (lib: webworker): self and a received port', 'spec/types-web/worker/tsconfig.json'],
  ['Electron: MessageChannelMain ports, ipcMain and WebContents in main; event.ports[0] in a renderer', 'spec/types-web/electron/tsconfig.json'],
  ['examples/electron (checkJs against electron.d.ts)', 'examples/electron/tsconfig.json'],
]

describe('types for web and Electron consumers (tsc over consumer projects)', function () {
  this.timeout(60_000)

  for (const [name, project] of projects) {
    it(`compiles with no cast: ${name}`, async () => {
      const { code, output } = await typeCheck(project)
      expect(output).to.equal('')
      expect(code).to.equal(0)
    })
  }
})
