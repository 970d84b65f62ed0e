"""ffmpeg and PyAV wrappers: probing, analysis, audio, video and subtitle assembly."""
