// What the script tag defines, for type-checking public/app.js: everything @tidewire/core exports.
declare global {
  var Tidewire: typeof import('@tidewire/core');
}

export {};
