# Homebrew formula for a tap (not homebrew-core: it installs from PyPI into its own virtualenv).
# llama-cpp-python is compiled with Metal on Apple Silicon; the CPU build elsewhere.
class OrnithLocal < Formula
  include Language::Python::Virtualenv

  desc "Coding agent that runs entirely on your own machine (local GGUF models, llama.cpp)"
  homepage "https://github.com/ornith-local/ornith-local"
  url "https://files.pythonhosted.org/packages/source/o/ornith-local/ornith_local-0.1.0.tar.gz"
  # Filled in by the release: shasum -a 256 dist/ornith_local-0.1.0.tar.gz
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "Apache-2.0"

  depends_on "cmake" => :build
  depends_on "git"
  depends_on "python@3.12"

  def install
    venv = virtualenv_create(libexec, "python3.12")
    ENV["CMAKE_ARGS"] = "-DGGML_METAL=on" if OS.mac? && Hardware::CPU.arm?
    # Build llama-cpp-python from source for this machine; a cached CPU wheel would lose the GPU.
    system libexec/"bin/pip", "install", "--no-cache-dir", "--no-binary", "llama-cpp-python", "llama-cpp-python"
    system libexec/"bin/pip", "install", buildpath
    bin.install_symlink libexec/"bin/ornith"
  end

  test do
    assert_match "ornith #{version}", shell_output("#{bin}/ornith --version")
    report = JSON.parse(shell_output("#{bin}/ornith doctor --json"))
    assert report["llama_cpp"]["installed"]
    assert_equal "Darwin", report["hardware"]["os"].split.first if OS.mac?
  end
end
