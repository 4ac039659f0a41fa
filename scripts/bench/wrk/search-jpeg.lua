-- POST /api/v1/search with raw image/jpeg bodies, cycling through the files listed in $VSEARCH_WRK_BODIES
-- (one path per line; 640x480 JPEGs made by serve.py).
local bodies = {}
local index = 0

function init(args)
    for path in io.lines(os.getenv("VSEARCH_WRK_BODIES")) do
        local file = assert(io.open(path, "rb"))
        bodies[#bodies + 1] = file:read("*a")
        file:close()
    end
end

function request()
    index = index % #bodies + 1
    return wrk.format("POST", "/api/v1/search?k=4", {["Content-Type"] = "image/jpeg"}, bodies[index])
end

