// Embedding vectors as floats or as base64: the little-endian float32 bytes, base64-encoded, which
// is what OpenAI sends for encoding_format "base64" and what its SDKs decode.

export function toBase64(vector: readonly number[]): string {
  const bytes = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((value, i) => bytes.setFloat32(i * 4, value, true));
  const u8 = new Uint8Array(bytes.buffer);
  let binary = "";
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < u8.length; i += 0x8000) binary += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): number[] {
  const binary = atob(text);
  const bytes = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes.setUint8(i, binary.charCodeAt(i));
  return Array.from({ length: Math.floor(binary.length / 4) }, (_, i) => bytes.getFloat32(i * 4, true));
}
