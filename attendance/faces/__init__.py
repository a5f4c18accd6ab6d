"""The face engine: the only part of the core that imports cv2, dlib and onnxruntime."""
