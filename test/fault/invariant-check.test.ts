import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { readCorpus } from '../support/corpus';
import { assetIdOf, uploadOk, useFaultyStorage, withContext } from '../support/fault-scenarios';
import { waitForImage } from '../support/http';
import { checkInvariants } from '../support/invariants';

/**
 * The zeros the fault scenarios report mean something only if the check counts what it claims to: here each
 * violation is made by hand, behind the product's back, and must show up in its count.
 */

const PHOTO = readCorpus('photos/Canon_40D.jpg');

describe('the invariant check', () => {
  it('counts lost objects, unswept orphans, status mismatches and dead processes', async () => {
    await withContext({}, async (ctx, defer) => {
      const created = await uploadOk(ctx, PHOTO);
      await waitForImage(ctx.url, created.id, undefined, 30_000);
      const assetId = await assetIdOf(ctx, created.id);
      const storage = ctx.services.storage;

      // Lost: a ready rendition's object and the stripped copy vanish from storage.
      await storage.delete(`assets/${assetId}/m.webp`);
      const [asset] = await ctx.services.db.execute<{ stripped_key: string }>(sql`select stripped_key from assets where id = ${assetId}`);
      await storage.delete(asset!.stripped_key);
      // Status mismatch: the stored status disagrees with the rows.
      await ctx.services.db.execute(sql`update assets set status = 'failed' where id = ${assetId}`);
      // Swept: an object no row records. Orphan after the sweep: another one the sweep cannot delete.
      await storage.put('assets/nobody/junk', Buffer.from('x'), { contentType: 'text/plain' });
      await storage.put('assets/nobody/stuck', Buffer.from('x'), { contentType: 'text/plain' });
      const { faulty, real, restore } = useFaultyStorage(ctx);
      defer(restore);
      faulty.inject({ method: 'delete', key: /stuck$/, mode: 'fail' });
      // A process the scenario did not kill that is gone.
      const died = spawn(process.execPath, ['-e', 'process.exit(3)']);
      await new Promise((resolve) => died.once('exit', resolve));

      const report = await checkInvariants(ctx, { storage: faulty, alive: [died] });
      restore();
      expect(report).toMatchObject({
        quiesced: true,
        images: 1,
        stuck: 0,
        lost: 2,
        sweptByOnePass: 1,
        orphansAfterSweep: 1,
        statusMismatch: 1,
        deadProcesses: 1,
      });
      expect(report.swept).toEqual(['assets/nobody/junk']);
      expect(() => report.expectClean()).toThrow();
      expect(await real.head('assets/nobody/stuck')).not.toBeNull();
    });
  });

  it('counts images that never settle, and says the system did not go quiet', async () => {
    await withContext({ worker: false }, async (ctx) => {
      await uploadOk(ctx, PHOTO);
      const report = await checkInvariants(ctx, { quiesceTimeoutMs: 1000 });
      expect(report).toMatchObject({ quiesced: false, images: 1, stuck: 1, lost: 0, orphansAfterSweep: 0 });
      expect(report.unquiet.join('; ')).toMatch(/1 live images not settled.*jobs pending/);
    });
  });

  it('counts a deleted image that is still served, and a taken-down asset whose bytes remain', async () => {
    await withContext({}, async (ctx) => {
      const deleted = await uploadOk(ctx, PHOTO);
      await waitForImage(ctx.url, deleted.id, undefined, 30_000);
      const deletion = await fetch(`${ctx.url}/api/v1/images/${deleted.id}`, {
        method: 'DELETE',
        headers: { 'X-Delete-Token': deleted.delete_token },
      });
      expect(deletion.status).toBe(204);
      const rejected = await uploadOk(ctx, readCorpus('photos/Kodak_CX7530.jpg'));
      await waitForImage(ctx.url, rejected.id, undefined, 30_000);
      // A reject written behind the product's back, takedown marked done without removing anything.
      await ctx.services.db.execute(
        sql`update assets set moderation_verdict = 'reject', status = 'rejected', taken_down_at = now()
            where id = ${await assetIdOf(ctx, rejected.id)}`,
      );

      // An origin that serves everything: what a CDN route ignoring tombstones and verdicts would do.
      const server = createServer((_req, res) => res.writeHead(200).end('bytes'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const leaky = { ...ctx, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
        const report = await checkInvariants(leaky, { checkReadyServed: false });
        // Two URLs per image: the deleted one (expected 404) and the rejected one (expected 451).
        expect(report.servedAfterDelete).toBe(4);
        expect(report.takenDownStillStored).toBe(20); // original, stripped copy, 18 renditions
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
});
