// Opens values the server sealed with its vault (src/auth/vault.c): XChaCha20-Poly1305 as
// libsodium computes it, made of node:crypto's IETF ChaCha20-Poly1305 and HChaCha20
// (written out here: node has no XChaCha20). Tests use it as the attacker who holds both
// the database and the secrets key file would, and to check what the database alone gives.
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';

const rotl = (v, c) => ((v << c) | (v >>> (32 - c))) >>> 0;

function quarter(x, a, b, c, d) {
  x[a] = (x[a] + x[b]) >>> 0; x[d] = rotl(x[d] ^ x[a], 16);
  x[c] = (x[c] + x[d]) >>> 0; x[b] = rotl(x[b] ^ x[c], 12);
  x[a] = (x[a] + x[b]) >>> 0; x[d] = rotl(x[d] ^ x[a], 8);
  x[c] = (x[c] + x[d]) >>> 0; x[b] = rotl(x[b] ^ x[c], 7);
}

/** HChaCha20 (draft-irtf-cfrg-xchacha): a 32-byte subkey from a key and 16 nonce bytes. */
export function hchacha20(key, nonce16) {
  const x = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574,
    ...Array.from({ length: 8 }, (_, i) => key.readUInt32LE(4 * i)),
    ...Array.from({ length: 4 }, (_, i) => nonce16.readUInt32LE(4 * i))]);
  for (let i = 0; i < 10; i++) {
    quarter(x, 0, 4, 8, 12); quarter(x, 1, 5, 9, 13); quarter(x, 2, 6, 10, 14); quarter(x, 3, 7, 11, 15);
    quarter(x, 0, 5, 10, 15); quarter(x, 1, 6, 11, 12); quarter(x, 2, 7, 8, 13); quarter(x, 3, 4, 9, 14);
  }
  const out = Buffer.alloc(32);
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((w, i) => out.writeUInt32LE(x[w], 4 * i));
  return out;
}

/** Opens "v1:" + hex(nonce | ciphertext | tag) sealed for row ad; throws when it does not open. */
export function unseal(key, sealed, ad) {
  if (!sealed.startsWith('v1:')) throw new Error(`not sealed: ${sealed.slice(0, 8)}…`);
  const box = Buffer.from(sealed.slice(3), 'hex');
  const nonce = box.subarray(0, 24);
  const ct = box.subarray(24, box.length - 16);
  const d = createDecipheriv('chacha20-poly1305', hchacha20(key, nonce.subarray(0, 16)),
    Buffer.concat([Buffer.alloc(4), nonce.subarray(16)]), { authTagLength: 16 });
  d.setAAD(Buffer.from(ad), { plaintextLength: ct.length });
  d.setAuthTag(box.subarray(box.length - 16));
  return Buffer.concat([d.update(ct), d.final()]);
}

/** A signing key's secret (hex) from its sealed column, with the server's key file. */
export function unsealSigningKey(keyFile, kid, sealed) {
  return unseal(readFileSync(keyFile), sealed, `signing_key:${kid}`).toString('hex');
}
