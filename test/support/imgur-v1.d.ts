/** The part of the published `imgur` 1.x client (installed as `imgur-v1`) the tests use; it ships no types. */
declare module 'imgur-v1' {
  /** Imgur's image model, as the client hands back `data`. */
  type ImgurData = Record<string, unknown> & { id: string; link: string; deletehash?: string };
  const imgur: {
    setAPIUrl(url: string): void;
    setClientId(clientId: string): void;
    uploadFile(path: string, albumId?: string, title?: string, description?: string): Promise<ImgurData>;
    uploadBase64(base64: string, albumId?: string, title?: string, description?: string): Promise<ImgurData>;
    uploadUrl(url: string, albumId?: string, title?: string, description?: string): Promise<ImgurData>;
    getInfo(id: string): Promise<ImgurData>;
    deleteImage(deletehash: string): Promise<boolean>;
  };
  export default imgur;
}
